// Bundles the anywidget modules (src/widgets) into framecast/static, three.js included.
// The bundles are plain ES modules: they import nothing at run time. Of package.json they
// keep the version only (the widgets compare it with the Python package's).
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
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

const options = {
  bundle: true,
  format: 'esm',
  minify: true,
  target: 'es2020',
  logLevel: 'warning',
  plugins: [onlyTheVersion]
};

await build({
  ...options,
  entryPoints: ['src/widgets/controls.ts', 'src/widgets/links.ts'],
  outdir: '../framecast/static'
});

// The plot carries uPlot (about 50 KB) and its style sheet as text, which it puts inside
// the widget: marimo draws each widget in a shadow root, where page styles do not reach.
await build({
  ...options,
  entryPoints: ['src/widgets/plot.ts'],
  outdir: '../framecast/static',
  loader: { '.css': 'text' }
});

// The viewer carries three.js (most of its 600 KB). anywidget imports a widget's module
// afresh for every widget model (a new blob URL each time), so two viewers on a page would
// evaluate three.js twice (and three.js warns of "multiple instances"). The shipped module
// is therefore a small wrapper around the bundle's text: the first viewer of a page
// imports the bundle, and every later one reuses that module, keyed by the bundle's hash.
const viewer = await build({ ...options, entryPoints: ['src/widgets/viewer.ts'], write: false });
const bundle = viewer.outputFiles[0].text;
const key = `viewer@${version}:${createHash('sha256').update(bundle).digest('hex').slice(0, 16)}`;
writeFileSync(
  '../framecast/static/viewer.js',
  `const source = ${JSON.stringify(bundle)};
const shared = (globalThis.__framecast__ ??= {});
const modules = (shared.modules ??= {});
modules[${JSON.stringify(key)}] ??= import(URL.createObjectURL(new Blob([source], { type: 'text/javascript' })));
const viewer = await modules[${JSON.stringify(key)}];
const { VERSION } = viewer;
export default viewer.default;
export { VERSION };
`
);
// Mol*'s core (no React UI) for the viewer's rich representations: a bundle of its own,
// never part of a widget's module. The kernel sends it (gzipped) to a page the first time
// a view there needs it. Mol*'s package.json asks for node >= 22 (for its own build
// tools); what it publishes is compiled JavaScript, which esbuild bundles the same under
// node 20 (npm warns, EBADENGINE, and goes on). The browser tests draw with this bundle.
await build({
  ...options,
  plugins: [],
  entryPoints: ['src/molstar/engine.ts'],
  outfile: '../framecast/static/molstar.js',
  // Mol*'s UI styles, fonts and images: the core draws none of them.
  loader: { '.scss': 'empty', '.css': 'empty', '.html': 'empty', '.jpg': 'empty', '.png': 'empty' },
  define: { 'process.env.NODE_ENV': '"production"' }
});
copyFileSync('style/index.css', '../framecast/static/widgets.css');
