package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// Several handles on one database stand for the nodes of a cluster: what
// they share must hold across them, not only within one.

// TestRunAloneAcrossHandles: a job running on one node is not started on
// another; once it ends, the other may run it; other jobs are not held up.
func TestRunAloneAcrossHandles(t *testing.T) {
	url := newDatabase(t)
	a, b := open(t, url), open(t, url)
	ctx := context.Background()

	started, finish := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		ran, err := a.RunAlone(ctx, "cleanup", func(context.Context) error {
			close(started)
			<-finish
			return nil
		})
		if err == nil && !ran {
			err = errors.New("the first node did not run the job")
		}
		done <- err
	}()
	<-started
	for _, d := range []*DB{b, a} {
		ran, err := d.RunAlone(ctx, "cleanup", func(context.Context) error {
			t.Error("the job ran twice at once")
			return nil
		})
		if err != nil || ran {
			t.Errorf("a second run while the first runs: ran %v, %v", ran, err)
		}
	}
	if ran, err := b.RunAlone(ctx, "retention", func(context.Context) error { return nil }); err != nil || !ran {
		t.Errorf("another job: ran %v, %v", ran, err)
	}
	close(finish)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	fnErr := errors.New("job failed")
	if ran, err := b.RunAlone(ctx, "cleanup", func(context.Context) error { return fnErr }); !ran || !errors.Is(err, fnErr) {
		t.Errorf("after the first ended: ran %v, %v; want the job run and its error", ran, err)
	}
	if ran, err := a.RunAlone(ctx, "cleanup", func(context.Context) error { return nil }); err != nil || !ran {
		t.Errorf("after a failed run: ran %v, %v; its lock must be released", ran, err)
	}
}

// TestSessionKeysAcrossHandles: nodes starting at once agree on one set
// of keys.
func TestSessionKeysAcrossHandles(t *testing.T) {
	url := newDatabase(t)
	const nodes = 6
	handles := make([]*DB, nodes)
	for i := range handles {
		handles[i] = open(t, url)
	}
	keys := make([][]byte, nodes)
	var wg sync.WaitGroup
	for i, d := range handles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := d.SessionKeys(context.Background(), []byte(fmt.Sprintf("candidate-%d", i)))
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	for i := range keys {
		if !bytes.Equal(keys[i], keys[0]) || len(keys[i]) == 0 {
			t.Fatalf("nodes got different keys: %q", keys)
		}
	}
}

// TestQuotaAcrossHandles: callers on several nodes never take more than
// the limit of a window between them.
func TestQuotaAcrossHandles(t *testing.T) {
	url := newDatabase(t)
	handles := []*DB{open(t, url), open(t, url), open(t, url)}
	k := portal.QuotaKey{AppID: 1, APIID: 2, KeyType: "PRODUCTION"}
	window := time.Now().Truncate(time.Minute)
	const limit, callers, want = 100, 30, 7
	var granted atomic.Int64
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := handles[i%len(handles)].TakeQuota(context.Background(), k, window, want, limit)
			if err != nil {
				t.Error(err)
			}
			granted.Add(int64(n))
		}()
	}
	wg.Wait()
	if granted.Load() != limit {
		t.Errorf("%d callers wanting %d each were granted %d in all, want the limit %d", callers, want, granted.Load(), limit)
	}
	// A lagging node's older window counts against the stored one.
	if n, err := handles[0].TakeQuota(context.Background(), k, window.Add(-time.Minute), 1, limit); err != nil || n != 0 {
		t.Errorf("an older window: granted %d, %v; want 0 from the spent current window", n, err)
	}
	if n, err := handles[1].TakeQuota(context.Background(), k, window.Add(time.Minute), 5, limit); err != nil || n != 5 {
		t.Errorf("the next window: granted %d, %v; want 5", n, err)
	}
}

// TestReserveLoginAcrossHandles: concurrent guesses on several nodes each
// see the reservations of those before them, so no more are admitted than
// the limit allows.
func TestReserveLoginAcrossHandles(t *testing.T) {
	url := newDatabase(t)
	handles := []*DB{open(t, url), open(t, url), open(t, url)}
	now := time.Now()
	const allowed, guesses = 5, 40
	admit := func(counts []portal.LoginCount) bool {
		for _, c := range counts {
			if c.Failures+c.Pending >= allowed {
				return false
			}
		}
		return true
	}
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for i := range guesses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The keys in either order: the locks are taken in one order.
			keys := []string{"u:alice", fmt.Sprintf("a:192.0.2.%d", i%3)}
			if i%2 == 1 {
				keys[0], keys[1] = keys[1], keys[0]
			}
			id, _, err := handles[i%len(handles)].ReserveLogin(context.Background(), keys, now, now.Add(time.Minute), admit)
			if err != nil {
				t.Error(err)
			}
			if id != 0 {
				admitted.Add(1)
			}
		}()
	}
	wg.Wait()
	if admitted.Load() != allowed {
		t.Errorf("%d of %d concurrent guesses admitted, want %d", admitted.Load(), guesses, allowed)
	}
}

// TestNoTokenOutlivesReplaceSecret: a token checked against the old secret
// while the new one is being committed is refused, not stored unrevoked.
// The replacement is held open between its update of the key and its
// commit, with ReplaceSecret's statements, while a token is stored.
func TestNoTokenOutlivesReplaceSecret(t *testing.T) {
	url := newDatabase(t)
	d := open(t, url)
	ctx := context.Background()
	f := newFixture(t, d)

	tx, err := raw(t, url).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	newSecret := oauth.HashOf(oauth.NewSecret())
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`SELECT 1 FROM access_generation WHERE id = 1 FOR NO KEY UPDATE`, nil},
		{`SELECT 1 FROM consumer_keys WHERE id = $1 FOR UPDATE`, []any{f.key.KeyID}},
		{`UPDATE consumer_keys SET secret_hash = $2 WHERE id = $1`, []any{f.key.KeyID, newSecret[:]}},
	} {
		if _, err := tx.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	stored := make(chan error, 1)
	go func() {
		now := time.Now()
		tok := &oauth.Token{AccessHash: oauth.HashOf(oauth.NewSecret()), KeyID: f.key.KeyID, UserID: f.user.ID,
			GrantType: oauth.GrantClientCredentials, IssuedAt: now, SecretHash: f.key.SecretHash}
		tok.FamilyID = tok.AccessHash
		stored <- d.CreateToken(ctx, tok)
	}()
	select {
	case err := <-stored:
		t.Fatalf("the token was stored, or refused, before the new secret committed: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	if _, err := tx.Exec(ctx, `UPDATE tokens SET revoked = true WHERE key_id = $1 AND NOT revoked`, f.key.KeyID); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-stored; !errors.Is(err, oauth.ErrSecretReplaced) {
		t.Errorf("a token checked against the old secret: %v, want ErrSecretReplaced", err)
	}
}

// TestBulkChangesBumpOnce: the generation's triggers are per statement: a
// revocation of many tokens is one new generation; spending a refresh
// token, storing tokens or deleting revoked ones is none.
func TestBulkChangesBumpOnce(t *testing.T) {
	d := open(t, newDatabase(t))
	ctx := context.Background()
	f := newFixture(t, d)
	var tokens []*oauth.Token
	for range 50 {
		tokens = append(tokens, f.token(t, d, oauth.GrantClientCredentials))
	}
	user := f.token(t, d, oauth.GrantPassword)
	steps := []struct {
		what string
		do   func() error
		bump uint64
	}{
		{"storing tokens", func() error { return d.CreateTokens(ctx, []*oauth.Token{f.next(user)}) }, 0},
		{"spending a refresh token", func() error { return d.RotateRefresh(ctx, user.RefreshHash, f.next(user)) }, 0},
		{"revoking 50 application tokens", func() error { return d.RevokeApplicationTokens(ctx, f.key.KeyID) }, 1},
		{"revoking them again", func() error { return d.RevokeApplicationTokens(ctx, f.key.KeyID) }, 0},
		{"deleting revoked tokens", func() error {
			_, err := d.DeleteStaleTokens(ctx, time.Now())
			return err
		}, 0},
		{"deleting expired tokens not revoked", func() error {
			_, err := d.DeleteStaleTokens(ctx, time.Now().Add(48*time.Hour))
			return err
		}, 1},
		{"an update matching nothing", func() error { return d.RevokeToken(ctx, tokens[0].AccessHash) }, 0},
	}
	for _, s := range steps {
		before := generation(t, d)
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		if got := generation(t, d) - before; got != s.bump {
			t.Errorf("%s moved the generation by %d, want %d", s.what, got, s.bump)
		}
	}
}

// next is a token continuing t's chain.
func (f fixture) next(t *oauth.Token) *oauth.Token {
	now := time.Now()
	n := &oauth.Token{AccessHash: oauth.HashOf(oauth.NewSecret()), RefreshHash: oauth.HashOf(oauth.NewSecret()),
		FamilyID: t.FamilyID, KeyID: t.KeyID, UserID: t.UserID, Scopes: t.Scopes, GrantType: t.GrantType,
		IssuedAt: now, ExpiresAt: now.Add(time.Hour), RefreshExpiresAt: now.Add(24 * time.Hour)}
	return n
}

// TestConcurrentChangesDoNotDeadlock: the changes that bump the generation
// after locking other rows (a regenerated secret revoking its key's
// tokens, a revoked consent, a deleted application) and single revocations
// of the same tokens, run together on two nodes, all succeed.
func TestConcurrentChangesDoNotDeadlock(t *testing.T) {
	url := newDatabase(t)
	a, b := open(t, url), open(t, url)
	ctx := context.Background()
	f := newFixture(t, a)
	var tokens []*oauth.Token
	for range 20 {
		tokens = append(tokens, f.token(t, a, oauth.GrantPassword))
	}
	if err := a.SaveConsent(ctx, &portal.Consent{UserID: f.user.ID, AppID: f.key.AppID, Scopes: []string{"default"},
		ApprovedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	run := func(what string, n int, fn func(i int) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				if err := fn(i); err != nil && !errors.Is(err, oauth.ErrNotFound) {
					t.Errorf("%s: %v", what, err)
					return
				}
			}
		}()
	}
	run("ReplaceSecret", 30, func(int) error { return a.ReplaceSecret(ctx, f.key.KeyID, oauth.HashOf(oauth.NewSecret())) })
	run("RevokeFamily", 60, func(i int) error { return b.RevokeFamily(ctx, tokens[i%len(tokens)].FamilyID) })
	run("RevokeConsent", 30, func(int) error {
		if err := b.SaveConsent(ctx, &portal.Consent{UserID: f.user.ID, AppID: f.key.AppID, Scopes: []string{"default"},
			ApprovedAt: time.Now()}); err != nil {
			return err
		}
		return b.RevokeConsent(ctx, f.user.ID, f.key.AppID)
	})
	run("UpdateKeySettings", 30, func(int) error {
		return b.UpdateKeySettings(ctx, f.key.KeyID, oauth.DefaultGrantTypes, "", time.Hour)
	})
	wg.Wait()
	if err := b.DeleteApplication(ctx, f.user.ID, f.key.AppID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AccessToken(ctx, tokens[0].AccessHash); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("a token of a deleted application: %v", err)
	}
}

// TestLockOrderAvoidsDeadlock: a transaction that changed a cached table
// (and so bumped the generation) and then revokes a token, against a
// revocation of that token on another node: the revocation waits for the
// generation's lock before it locks the token (migration 0023), so the
// first finishes instead of deadlocking with it.
func TestLockOrderAvoidsDeadlock(t *testing.T) {
	url := newDatabase(t)
	d := open(t, url)
	ctx := context.Background()
	f := newFixture(t, d)
	tok := f.token(t, d, oauth.GrantPassword)

	conn := raw(t, url)
	// Were there a deadlock, this transaction would be the one to see it
	// (and fail), not the revocation, which the store runs again.
	if _, err := conn.Exec(ctx, `SET deadlock_timeout = '100ms'`); err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE users SET email = 'alice@example.com' WHERE id = $1`, f.user.ID); err != nil {
		t.Fatal(err)
	}
	revoked := make(chan error, 1)
	go func() { revoked <- d.RevokeToken(ctx, tok.AccessHash) }()
	time.Sleep(200 * time.Millisecond) // the revocation is waiting by now
	if _, err := tx.Exec(ctx, `UPDATE tokens SET revoked = true WHERE access_hash = $1`, tok.AccessHash[:]); err != nil {
		t.Fatalf("the transaction holding the generation: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-revoked; err != nil {
		t.Fatalf("the revocation: %v", err)
	}
}
