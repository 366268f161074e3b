package web

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestConnectionsPerAddress: one address holds at most the limit of
// connections at once; more are closed at once, and a place frees when a
// connection closes. Trusted proxies are not limited.
func TestConnectionsPerAddress(t *testing.T) {
	for _, tt := range []struct {
		name    string
		trusted []netip.Prefix
		limited bool
	}{
		{"a client", nil, true},
		{"a trusted proxy", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ln := limitConns(raw, 3, tt.trusted)
			defer ln.Close()
			accepted := make(chan net.Conn, 10)
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					accepted <- c
				}
			}()
			dial := func() (client net.Conn, server net.Conn) {
				t.Helper()
				c, err := net.Dial("tcp", raw.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				select {
				case s := <-accepted:
					return c, s
				case <-time.After(500 * time.Millisecond):
					return c, nil
				}
			}
			var held []net.Conn
			for range 3 {
				if _, s := dial(); s == nil {
					t.Fatal("a connection within the limit was not accepted")
				} else {
					held = append(held, s)
				}
			}
			client, s := dial()
			if !tt.limited {
				if s == nil {
					t.Fatal("a trusted proxy's fourth connection was refused")
				}
				return
			}
			if s != nil {
				t.Fatal("a fourth connection from the address was accepted")
			}
			client.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := client.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("the refused connection: %v, want it closed (EOF)", err)
			}
			held[0].Close()
			held[0].Close() // closing twice frees one place only
			if _, s := dial(); s == nil {
				t.Error("no place freed after a connection closed")
			}
			if _, s := dial(); s != nil {
				t.Error("a second close freed a second place")
			}
		})
	}
}

func TestConnectionAddressBlocks(t *testing.T) {
	l := &connLimiter{}
	key := func(s string) netip.Addr {
		k, _ := l.block(net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)))
		return k
	}
	if key("[2001:db8::1]:1") != key("[2001:db8::2]:2") {
		t.Error("two addresses of one IPv6 /64 count apart")
	}
	if key("[2001:db8::1]:1") == key("[2001:db8:0:1::1]:1") {
		t.Error("two IPv6 /64s count as one")
	}
	if key("[::ffff:192.0.2.1]:1") != key("192.0.2.1:2") || key("192.0.2.1:1") == key("192.0.2.2:1") {
		t.Error("IPv4 addresses are not counted one by one")
	}
}
