/** Style sheets bundled as text (see build-widgets.mjs). */
declare module '*.css' {
  const text: string;
  export default text;
}
