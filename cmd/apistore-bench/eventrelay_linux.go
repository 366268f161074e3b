//go:build linux

package main

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// eventRelay joins each connection to a new connection to a backend and
// copies bytes both ways without parsing them, like startRelay's relay,
// but on event loops instead of a goroutine per connection: one thread per
// processor waits in epoll for the readable sockets of its connections and
// copies each to its other side, as nginx's workers do. It checks nothing
// and parses nothing, so the nginx comparison prints it as the ceiling of
// a Go proxy on the machine that runs the comparison.
type eventRelay struct {
	url   string
	loops []*relayLoop
	wg    sync.WaitGroup
}

// relayLoop is one event loop: its listening socket (SO_REUSEPORT on the
// relay's port, so the kernel spreads the connections over the loops), its
// epoll instance and an eventfd that wakes it to stop.
type relayLoop struct {
	listener, epoll, wake int
	peers                 map[int]int // each socket's other side
}

// startEventRelay listens on a free loopback port and relays to backend
// (host:port, IPv4).
func startEventRelay(backend string) (*eventRelay, error) {
	to, err := net.ResolveTCPAddr("tcp4", backend)
	if err != nil {
		return nil, err
	}
	r := &eventRelay{}
	port := 0
	for range runtime.GOMAXPROCS(0) {
		l, err := newRelayLoop(port)
		if err != nil {
			r.stop()
			return nil, fmt.Errorf("event relay: %w", err)
		}
		r.loops = append(r.loops, l)
		if port == 0 {
			sa, err := unix.Getsockname(l.listener)
			if err != nil {
				r.stop()
				return nil, fmt.Errorf("event relay: %w", err)
			}
			port = sa.(*unix.SockaddrInet4).Port
			r.url = fmt.Sprintf("http://127.0.0.1:%d", port)
		}
	}
	dst := unix.SockaddrInet4{Port: to.Port}
	copy(dst.Addr[:], to.IP.To4())
	for _, l := range r.loops {
		r.wg.Go(func() { l.run(dst) })
	}
	return r, nil
}

// stop ends the loops and closes every socket they hold.
func (r *eventRelay) stop() {
	for _, l := range r.loops {
		unix.Write(l.wake, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	}
	r.wg.Wait()
	for _, l := range r.loops {
		for fd := range l.peers {
			unix.Close(fd)
		}
		unix.Close(l.listener)
		unix.Close(l.epoll)
		unix.Close(l.wake)
	}
}

func newRelayLoop(port int) (l *relayLoop, err error) {
	l = &relayLoop{listener: -1, epoll: -1, wake: -1, peers: map[int]int{}}
	defer func() {
		if err != nil {
			for _, fd := range []int{l.listener, l.epoll, l.wake} {
				if fd >= 0 {
					unix.Close(fd)
				}
			}
		}
	}()
	if l.listener, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0); err != nil {
		return nil, err
	}
	const soReusePort = 0xf // SO_REUSEPORT, which package syscall does not name
	if err = unix.SetsockoptInt(l.listener, unix.SOL_SOCKET, soReusePort, 1); err != nil {
		return nil, err
	}
	if err = unix.Bind(l.listener, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return nil, err
	}
	if err = unix.Listen(l.listener, unix.SOMAXCONN); err != nil {
		return nil, err
	}
	if l.epoll, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, err
	}
	if l.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC); err != nil {
		return nil, err
	}
	for _, fd := range []int{l.listener, l.wake} {
		if err = l.watch(fd); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (l *relayLoop) watch(fd int) error {
	return unix.EpollCtl(l.epoll, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)})
}

// run serves the loop's sockets until stop wakes it. backend is its own
// copy: a Sockaddr keeps the raw address it passes to the kernel.
func (l *relayLoop) run(backend unix.SockaddrInet4) {
	runtime.LockOSThread()
	events := make([]unix.EpollEvent, 128)
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.EpollWait(l.epoll, events, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range events[:n] {
			switch fd := int(ev.Fd); fd {
			case l.wake:
				return
			case l.listener:
				l.accept(&backend)
			default:
				l.copy(fd, buf)
			}
		}
	}
}

// accept takes every waiting connection and joins each to a new
// connection to the backend.
func (l *relayLoop) accept(backend unix.Sockaddr) {
	for {
		in, _, err := unix.Accept4(l.listener, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			return
		}
		out, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			// A blocking connect, then non-blocking: loopback answers at once.
			if err = unix.Connect(out, backend); err == nil {
				err = unix.SetNonblock(out, true)
			}
			if err != nil {
				unix.Close(out)
			}
		}
		if err != nil {
			unix.Close(in)
			continue
		}
		for _, fd := range []int{in, out} {
			unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		}
		l.peers[in], l.peers[out] = out, in
		if l.watch(in) != nil || l.watch(out) != nil {
			l.drop(in)
		}
	}
}

// copy moves what fd has to read to its other side; an end or an error on
// either side closes both.
func (l *relayLoop) copy(fd int, buf []byte) {
	peer, ok := l.peers[fd]
	if !ok {
		return
	}
	n, err := unix.Read(fd, buf)
	if errors.Is(err, unix.EAGAIN) {
		return
	}
	if n <= 0 || writeAll(peer, buf[:n]) != nil {
		l.drop(fd)
	}
}

// drop closes fd and its other side.
func (l *relayLoop) drop(fd int) {
	peer := l.peers[fd]
	for _, s := range []int{fd, peer} {
		unix.Close(s)
		delete(l.peers, s)
	}
}

// writeAll writes b to the non-blocking socket fd, waiting for room when
// its buffer is full.
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if errors.Is(err, unix.EAGAIN) {
			if err := waitWritable(fd); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// errNotReading ends a connection whose peer left no room to write for a
// second: waiting longer would stall every connection of the loop.
var errNotReading = errors.New("the peer read nothing for a second")

// waitWritable waits up to a second for room to write on fd.
func waitWritable(fd int) error {
	n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}, 1000)
	switch {
	case errors.Is(err, unix.EINTR):
		return nil
	case err == nil && n == 0:
		return errNotReading
	}
	return err
}
