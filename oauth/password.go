package oauth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters for user passwords: 12 MiB, 3 passes, 1 lane, one of
// OWASP's equivalent minimum settings (the lower memory keeps the server's
// RSS small under a burst of logins). Hashing is limited to one per core
// the process may use (GOMAXPROCS, which follows a container's CPU limit;
// at most 4) at once: more would not finish sooner, and each hash in flight
// holds its 12 MiB.
const (
	argonTime    = 3
	argonMemory  = 12 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// Bounds of the work waiting for a hashing slot: per source, and in all.
// A source's log-ins and sign-ups are limited before they get here (see
// handlers), so these are a backstop against a flood from many addresses:
// waiting costs a goroutine and a connection, not the 12 MiB of a hash.
const (
	maxWaitingPerSource = 32
	maxWaiting          = 1024
)

// ErrPasswordBusy is the answer when too many password checks already wait:
// the request should be refused as a temporary overload (503), not queued.
var ErrPasswordBusy = errors.New("too many password checks are waiting")

// passwords hands out the hashing slots.
var passwords = newPasswordQueue(min(runtime.GOMAXPROCS(0), 4), maxWaitingPerSource, maxWaiting)

// dummyPasswordHash is checked against for unknown users, so a login takes
// as long whether or not the user exists.
var dummyPasswordHash = mustHashPassword("apistore-dummy-password")

// HashPassword returns the PHC-formatted argon2id hash of a password, for
// the command line and tests; requests use HashPasswordFor.
func HashPassword(password string) (string, error) {
	return HashPasswordFor(context.Background(), "", password)
}

// HashPasswordFor is HashPassword for a request from source (a client's
// address, say): it waits its turn for a hashing slot (see passwordQueue),
// and gives up with ErrPasswordBusy when too much work waits already, or
// with ctx's error when ctx ends first.
func HashPasswordFor(ctx context.Context, source, password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key, err := argonKey(ctx, source, []byte(password), salt, argonTime, argonMemory, argonThreads)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

func mustHashPassword(password string) string {
	h, err := HashPassword(password)
	if err != nil {
		panic(err)
	}
	return h
}

// CheckPassword reports whether password matches the encoded hash, for
// tests; requests use CheckPasswordFor.
func CheckPassword(encoded, password string) bool {
	ok, _ := CheckPasswordFor(context.Background(), "", encoded, password)
	return ok
}

// CheckPasswordFor reports whether password matches the encoded hash, for a
// request from source, waiting its turn as HashPasswordFor does (and giving
// up as it does). An empty or malformed hash matches nothing, after the
// same work as a real check.
func CheckPasswordFor(ctx context.Context, source, encoded, password string) (bool, error) {
	salt, key, t, m, p, err := parsePasswordHash(encoded)
	if err != nil {
		_, err := CheckPasswordFor(ctx, source, dummyPasswordHash, password)
		return false, err
	}
	got, err := argonKey(ctx, source, []byte(password), salt, t, m, p)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

func argonKey(ctx context.Context, source string, password, salt []byte, t, m uint32, p uint8) ([]byte, error) {
	if err := passwords.acquire(ctx, source); err != nil {
		return nil, err
	}
	defer passwords.release(source)
	return argon2.IDKey(password, salt, t, m, p, argonKeyLen), nil
}

// passwordQueue shares the hashing slots fairly between sources. A free
// slot goes to the waiting source with the fewest hashes running; among
// equals, to the one served least recently (a newcomer first), then in
// order of arrival. So one address sending a flood of log-ins or sign-ups
// cannot make another's wait behind it: a newcomer gets the next slot that
// frees, after at most one hash already running, even with a single slot.
// Waiting work is bounded per source and in all; past either bound,
// acquire refuses at once with ErrPasswordBusy.
type passwordQueue struct {
	mu            sync.Mutex
	free          int
	running       map[string]int
	waiting       map[string][]*passwordTicket // per source, oldest first
	served        map[string]uint64            // when a busy source was last given a slot (grant count)
	queued        int
	size          int // slots in all
	perSource, in int // the bounds
	seq, grants   uint64
}

// passwordTicket is a request waiting for a slot.
type passwordTicket struct {
	ready   chan struct{} // closed when granted
	granted bool
	seq     uint64 // arrival order
}

func newPasswordQueue(slots, perSource, in int) *passwordQueue {
	return &passwordQueue{free: slots, size: slots, running: map[string]int{}, waiting: map[string][]*passwordTicket{},
		served: map[string]uint64{}, perSource: perSource, in: in}
}

// acquire takes a slot for source, waiting its turn; release must follow.
func (q *passwordQueue) acquire(ctx context.Context, source string) error {
	q.mu.Lock()
	if q.free > 0 && q.queued == 0 {
		q.free--
		q.grant(source)
		q.mu.Unlock()
		return nil
	}
	if len(q.waiting[source]) >= q.perSource || q.queued >= q.in {
		q.mu.Unlock()
		return ErrPasswordBusy
	}
	tk := &passwordTicket{ready: make(chan struct{}), seq: q.seq}
	q.seq++
	q.waiting[source] = append(q.waiting[source], tk)
	q.queued++
	q.mu.Unlock()

	select {
	case <-tk.ready:
		return nil
	case <-ctx.Done():
	}
	q.mu.Lock()
	if tk.granted { // granted meanwhile: give the slot on
		q.mu.Unlock()
		q.release(source)
		return ctx.Err()
	}
	w := slices.DeleteFunc(q.waiting[source], func(x *passwordTicket) bool { return x == tk })
	if len(w) == 0 {
		delete(q.waiting, source)
		q.forgetIdle(source)
	} else {
		q.waiting[source] = w
	}
	q.queued--
	q.mu.Unlock()
	return ctx.Err()
}

// grant counts a slot given to source.
func (q *passwordQueue) grant(source string) {
	q.running[source]++
	q.grants++
	q.served[source] = q.grants
}

// forgetIdle drops what is known of a source with nothing running or
// waiting: it comes back as a newcomer.
func (q *passwordQueue) forgetIdle(source string) {
	if q.running[source] == 0 && len(q.waiting[source]) == 0 {
		delete(q.running, source)
		delete(q.served, source)
	}
}

// before reports whether waiting source s goes before t.
func (q *passwordQueue) before(s, t string) bool {
	if q.running[s] != q.running[t] {
		return q.running[s] < q.running[t]
	}
	if q.served[s] != q.served[t] {
		return q.served[s] < q.served[t]
	}
	return q.waiting[s][0].seq < q.waiting[t][0].seq
}

// release gives source's slot to the next in turn, or frees it.
func (q *passwordQueue) release(source string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.running[source]--
	q.forgetIdle(source)
	next, found := "", false
	for s := range q.waiting {
		if !found || q.before(s, next) {
			next, found = s, true
		}
	}
	if !found {
		q.free++
		return
	}
	tk := q.waiting[next][0]
	if len(q.waiting[next]) == 1 {
		delete(q.waiting, next)
	} else {
		q.waiting[next] = q.waiting[next][1:]
	}
	q.queued--
	q.grant(next)
	tk.granted = true
	close(tk.ready)
}

var errBadHash = errors.New("malformed password hash")

func parsePasswordHash(encoded string) (salt, key []byte, t, m uint32, p uint8, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return nil, nil, 0, 0, 0, errBadHash
	}
	var version int
	if _, err = fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return nil, nil, 0, 0, 0, errBadHash
	}
	if _, err = fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || t == 0 || p == 0 || m > 1<<20 {
		return nil, nil, 0, 0, 0, errBadHash
	}
	enc := base64.RawStdEncoding
	if salt, err = enc.DecodeString(parts[4]); err != nil {
		return nil, nil, 0, 0, 0, errBadHash
	}
	if key, err = enc.DecodeString(parts[5]); err != nil || len(key) != argonKeyLen {
		return nil, nil, 0, 0, 0, errBadHash
	}
	return salt, key, t, m, p, nil
}
