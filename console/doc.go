// Package console is the admin console: static HTML, CSS and JavaScript
// modules, embedded in the binary and served at /admin/. It has no build
// step and no framework; the browser calls the public API with the key its
// user signs in with, so it can do nothing the API would refuse that key.
// The package holds the files and the small handler that serves them with
// strict security headers and the generated /admin/config.js.
package console
