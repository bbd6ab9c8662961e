# framecast in marimo: a session, its control bar, transition links and the 3D viewer.
#
#     pip install framecast marimo
#     marimo edit notebooks/05-marimo.py
#
# marimo draws anywidgets, not ipywidgets; framecast's widgets are anywidgets, so they draw
# here as in JupyterLab. A session or a transition shown as a cell's last expression
# draws as its widget; wrap other widgets (the viewer) in mo.ui.anywidget.

import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo

    import framecast

    # A recorded argon trajectory; the session serves it on a free port and plays it.
    trajectory = framecast.demo.argon_trajectory(n=200, frames=300)
    session = framecast.Session(trajectory, port=0)
    return mo, session, trajectory


@app.cell
def _(session):
    # The control bar: play, pause, step, scrub, speed and loop mode. It drives the
    # session in this kernel, so every connected client follows.
    session
    return


@app.cell
def _(mo, session):
    # The 3D viewer is itself a client: published transitions move it.
    mo.ui.anywidget(session.view())
    return


@app.cell
def _(trajectory):
    # Click a link: the transition is published to every viewer listening on the tracked
    # sessions, and the link says how many received it.
    trajectory.transitions(10, 15)
    return


@app.cell
def _(session):
    # Who listens: the viewer above joined the "default" session, which links publish to.
    list(session.sessions.active())
    return


if __name__ == "__main__":
    app.run()
