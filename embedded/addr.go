package embedded

import (
	"fmt"
	"net"
	"runtime"
	"strconv"
)

// listenAddr is a parsed "host:port" to listen on.
type listenAddr struct {
	bindIP string // IP to bind; "0.0.0.0" or "::" for all interfaces
	port   int    // 0 until resolved
}

// parseListenAddr parses addr ("host:port"). The host must be an IP address,
// "localhost" (read as 127.0.0.1) or empty (all interfaces, as in Go's net package).
func parseListenAddr(addr string) (listenAddr, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return listenAddr{}, fmt.Errorf("parse address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return listenAddr{}, fmt.Errorf("parse address %q: bad port", addr)
	}
	switch host {
	case "":
		host = "0.0.0.0"
	case "localhost":
		host = "127.0.0.1"
	default:
		if net.ParseIP(host) == nil {
			return listenAddr{}, fmt.Errorf("parse address %q: host must be an IP address or localhost", addr)
		}
	}
	return listenAddr{bindIP: host, port: port}, nil
}

// dialHost is the host other processes use to reach the address: the bind IP,
// or loopback when binding all interfaces.
func (a listenAddr) dialHost() string {
	ip := net.ParseIP(a.bindIP)
	switch {
	case ip.Equal(net.IPv4zero):
		return "127.0.0.1"
	case ip.Equal(net.IPv6unspecified):
		return "::1"
	}
	return a.bindIP
}

// dialAddr is the "host:port" to dial.
func (a listenAddr) dialAddr() string {
	return net.JoinHostPort(a.dialHost(), strconv.Itoa(a.port))
}

// resolve picks a free port when the port is 0, and otherwise checks that the
// port can be bound, so that a busy port is reported as an error here instead
// of failing later inside a server that cannot return it.
func (a listenAddr) resolve() (listenAddr, error) {
	if a.port == 0 {
		port, err := freePort(a.bindIP)
		if err != nil {
			return a, err
		}
		a.port = port
		return a, nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(a.bindIP, strconv.Itoa(a.port)))
	if err != nil {
		return a, fmt.Errorf("address not usable: %w", err)
	}
	return a, ln.Close()
}

// freePort returns a TCP port on bindIP that nothing listens on.
//
// The port is free only until someone else binds it. On Linux the kernel hands
// out ephemeral ports at random and may give the same one to the next bind(0);
// to prevent that, freePort connects to its own listener and closes the
// accepted side first, which leaves the port in TIME_WAIT: the kernel does not
// pick it for bind(0) for a while, yet the server can still bind it explicitly
// (Go sets SO_REUSEADDR on listeners).
func freePort(bindIP string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(bindIP, "0"))
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	if runtime.GOOS == "windows" {
		return port, nil
	}

	a := listenAddr{bindIP: bindIP, port: port}
	client, err := net.Dial("tcp", a.dialAddr())
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	if err := server.Close(); err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	return port, nil
}
