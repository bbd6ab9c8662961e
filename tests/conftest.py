"""The suite's fixtures are framecast's own pytest plugins, which users load the same way."""

# A session, a client, leak checks, a NATS server; a JupyterLab and Debian's Chromium.
pytest_plugins = ["framecast.testing.fixtures", "framecast.testing.browser"]
