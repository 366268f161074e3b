//go:build !linux

package main

import "errors"

// eventRelay is the event-loop relay of eventrelay_linux.go, which needs
// Linux's epoll.
type eventRelay struct{ url string }

func startEventRelay(string) (*eventRelay, error) {
	return nil, errors.New("the event-loop relay needs Linux")
}

func (r *eventRelay) stop() {}
