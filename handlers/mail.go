package handlers

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/apistore/apistore/portal"
)

// Mailer sends email: password reset links and notices of account changes.
// mailer.Mailer is one, through an SMTP server.
type Mailer interface {
	Send(ctx context.Context, to, subject, body string) error
}

// Sending runs apart from the request that asks for it, in an outbox: the
// answer to "Forgot your password?" must take as long whether or not an
// account matched (a reply that waited for an SMTP server would say which
// did), and a slow mail server must not hold a page.

// outboxSize bounds the jobs waiting; past it new ones are dropped (and
// logged): a flood of requests from many addresses is not queued without
// end.
const outboxSize = 1000

// mailTimeout bounds one job: looking the account up, storing a link and
// talking to the SMTP server.
const mailTimeout = 2 * time.Minute

// outbox runs jobs one at a time, in the order they came, on a goroutine
// that runs while there are jobs and ends when there are none.
type outbox struct {
	mu      sync.Mutex
	jobs    []func(context.Context)
	running bool
}

// add queues a job; false when the outbox is full.
func (o *outbox) add(job func(context.Context)) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.jobs) >= outboxSize {
		return false
	}
	o.jobs = append(o.jobs, job)
	if !o.running {
		o.running = true
		go o.run()
	}
	return true
}

func (o *outbox) run() {
	for {
		o.mu.Lock()
		if len(o.jobs) == 0 {
			o.running = false
			o.mu.Unlock()
			return
		}
		job := o.jobs[0]
		o.jobs = o.jobs[1:]
		o.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), mailTimeout)
		job(ctx)
		cancel()
	}
}

// later queues a job in the outbox; a full outbox drops it with a warning.
func (h *Handlers) later(what string, job func(context.Context)) {
	if !h.outbox.add(job) {
		slog.Warn("outbox full: dropped", "what", what)
	}
}

// record is audit for a job of the outbox, which has no request: the
// address is the one the request came from.
func (h *Handlers) record(ctx context.Context, event, username, remote, detail string) {
	e := &portal.AuditEvent{At: h.now(), Event: event, Username: username, Remote: remote, Detail: detail}
	if err := h.store.RecordAudit(ctx, e); err != nil {
		slog.ErrorContext(ctx, "audit", "event", event, "err", err)
	}
}

// notify mails a notice of a change to an account to address (the
// account's, or its old one), when the server sends mail and there is an
// address: whoever made the change may not be the account's owner, who
// then learns of it. A failure is logged.
func (h *Handlers) notify(address, subject, body string) {
	if h.mailer == nil || address == "" {
		return
	}
	h.later("notice", func(ctx context.Context) {
		if err := h.mailer.Send(ctx, address, subject, body); err != nil {
			slog.ErrorContext(ctx, "send notice", "subject", subject, "err", err)
		}
	})
}
