// Package e2e holds medid's end-to-end tests: they start the real server
// in-process on a loopback port and go through HTTP only.
package e2e
