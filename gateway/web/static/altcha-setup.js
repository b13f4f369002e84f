// The ALTCHA widget's CSP-strict build ships no worker: the proof of work (SHA-256, as the accounts
// service issues it) runs in the vendored worker file, served by the gateway itself (no blob:, no CDN).
globalThis.$altcha.algorithms.set("SHA-256", () => new Worker("/static/vendor/altcha/sha.js"));
