package main

import (
	"context"
	"net"
	"time"
)

// Client-side TCP settings of every PostgreSQL connection, so that a server
// cut off without a reset (packets dropped) is noticed in seconds, not after
// the operating system's two hours: keepalive probes on idle connections,
// and (on Linux) a bound on how long sent data may stay unacknowledged.
const (
	tcpKeepAliveIdle     = 5 * time.Second
	tcpKeepAliveInterval = 2 * time.Second
	tcpKeepAliveCount    = 3
	tcpUserTimeout       = 15 * time.Second
)

// dialPostgres dials like pgx's default dialer, with the settings above.
func dialPostgres(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: tcpKeepAliveIdle,
			Interval: tcpKeepAliveInterval, Count: tcpKeepAliveCount},
		Control: setUserTimeout,
	}
	return d.DialContext(ctx, network, addr)
}
