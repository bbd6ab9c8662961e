// Bundles the anywidget modules (src/widgets) into framecast/static, three.js included.
// The bundles are plain ES modules: they import nothing at run time. Of package.json they
// keep the version only (the widgets compare it with the Python package's).
import { copyFileSync, readFileSync } from 'node:fs';
import { build } from 'esbuild';

const { version } = JSON.parse(readFileSync('package.json', 'utf8'));

const onlyTheVersion = {
  name: 'only-the-version',
  setup(builder) {
    builder.onResolve({ filter: /package\.json$/ }, () => ({ path: 'version', namespace: 'version' }));
    builder.onLoad({ filter: /.*/, namespace: 'version' }, () => ({
      contents: `export default { version: ${JSON.stringify(version)} };`,
      loader: 'js'
    }));
  }
};

await build({
  entryPoints: ['src/widgets/controls.ts', 'src/widgets/viewer.ts', 'src/widgets/links.ts'],
  bundle: true,
  format: 'esm',
  minify: true,
  target: 'es2020',
  logLevel: 'warning',
  outdir: '../framecast/static',
  plugins: [onlyTheVersion]
});
copyFileSync('style/index.css', '../framecast/static/widgets.css');
