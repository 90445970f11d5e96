// hls.js's light build (no subtitles, alternate audio, DRM or interstitials: none of which our
// streams have) is a third smaller than the full one but ships without its own type declarations.
declare module "hls.js/dist/hls.light.mjs" {
  export * from "hls.js";
  export { default } from "hls.js";
}
