import packageJson from '../package.json';

/** The version of this extension; the Python package must match it. */
export const VERSION: string = packageJson.version;

/** An actionable explanation of a version mismatch, or null when versions match. */
export function versionProblem(pythonVersion: unknown): string | null {
  if (pythonVersion === VERSION) {
    return null;
  }
  return (
    `framecast: the Python package is version ${String(pythonVersion)} but the ` +
    `JupyterLab extension is version ${VERSION}. Install one framecast in the ` +
    `environment that runs both JupyterLab and the kernel (pip install --force-reinstall ` +
    `framecast), then restart JupyterLab and reload this page.`
  );
}
