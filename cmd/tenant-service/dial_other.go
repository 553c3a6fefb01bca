//go:build !linux

package main

import "syscall"

// setUserTimeout does nothing where TCP_USER_TIMEOUT does not exist; the
// keepalive settings still apply.
func setUserTimeout(string, string, syscall.RawConn) error { return nil }
