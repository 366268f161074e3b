package postgres

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apistore/apistore/internal/pgtest"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// The node's hold on partitionLock across a lost connection (watchNode).

var corpA = []oauth.Partition{{Domain: "CORP", Name: "a"}}

// watchedNode opens a store on url whose node watcher pings every 20 ms,
// calling beforeRetake (when given) once a loss is noticed, and makes its
// token partitioning ps.
func watchedNode(t *testing.T, url string, ps []oauth.Partition, beforeRetake func()) *DB {
	t.Helper()
	d := open(t, url)
	d.watch.every, d.watch.beforeRetake = 20*time.Millisecond, beforeRetake
	if err := d.PartitionTokens(t.Context(), ps); err != nil {
		t.Fatal(err)
	}
	return d
}

// cut ends the backend of the node's connection from another connection
// and returns its pid.
func cut(t *testing.T, conn *pgx.Conn) int32 {
	t.Helper()
	pids := pgtest.SharedLockHolders(t, conn)
	if len(pids) != 1 {
		t.Fatalf("backends holding partitionLock shared: %v; want the node's", pids)
	}
	pgtest.Terminate(t, conn, pids[0])
	return pids[0]
}

// exclusive reports whether conn can take partitionLock exclusive, as a
// node changing the partitioning does; it lets it go at once.
func exclusive(t *testing.T, conn *pgx.Conn) bool {
	t.Helper()
	var alone bool
	if err := conn.QueryRow(t.Context(), `SELECT pg_try_advisory_lock($1)`, partitionLock).Scan(&alone); err != nil {
		t.Fatal(err)
	}
	if alone {
		if _, err := conn.Exec(t.Context(), `SELECT pg_advisory_unlock($1)`, partitionLock); err != nil {
			t.Fatal(err)
		}
	}
	return alone
}

// notFailed checks that d has delivered no failure.
func notFailed(t *testing.T, d *DB) {
	t.Helper()
	select {
	case err := <-d.Failed():
		t.Errorf("the node failed: %v", err)
	default:
	}
}

// TestNodeTakesLockAgain: a node whose connection is cut takes the lock
// again within a bounded time, on a new connection, and goes on: another
// node is again refused a change of the partitioning.
func TestNodeTakesLockAgain(t *testing.T) {
	url := newDatabase(t)
	d := watchedNode(t, url, corpA, nil)
	admin := raw(t, url)
	old := cut(t, admin)

	deadline := time.Now().Add(5 * time.Second)
	for exclusive(t, admin) {
		if time.Now().After(deadline) {
			t.Fatal("the lock is not held again 5 s after the node's connection was cut")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if pids := pgtest.SharedLockHolders(t, admin); len(pids) != 1 || pids[0] == old {
		t.Errorf("backends holding partitionLock shared: %v; want the node's new one (not %d)", pids, old)
	}
	if err := open(t, url).PartitionTokens(t.Context(), nil); !errors.Is(err, ErrPartitioningInUse) {
		t.Errorf("another node turning partitioning off: %v; want ErrPartitioningInUse", err)
	}
	notFailed(t, d)
	if d.parts().String() != "CORP:a" {
		t.Errorf("the node's partitioning is %q; want CORP:a", d.parts())
	}
	// Its row still there, the node writes tokens.
	newFixture(t, d).token(t, d, oauth.GrantPassword)
}

// corpToken stores a token of a user of the CORP store, as issued while
// CORP has no partition.
func corpToken(t *testing.T, d *DB) *oauth.Token {
	t.Helper()
	us := &portal.UserStore{Domain: "CORP", URL: "ldap://127.0.0.1:389", BindDN: "cn=apistore,dc=example,dc=org",
		UserSearchBase: "ou=people,dc=example,dc=org", UserFilter: "(objectClass=person)", UserAttribute: "uid"}
	if err := d.CreateUserStore(t.Context(), us); err != nil {
		t.Fatal(err)
	}
	bob, err := d.UpsertStoreUser(t.Context(), us.ID, "CORP/bob", []string{"subscriber"})
	if err != nil {
		t.Fatal(err)
	}
	return fixtureOf(t, d, bob).token(t, d, oauth.GrantPassword)
}

// lostNode opens a node on a fresh database with a token of a CORP user,
// then cuts the node's connection holding the lock. It returns once the
// node has noticed, kept from taking the lock again until retake is called
// (at the latest at cleanup).
func lostNode(t *testing.T) (url string, d *DB, tok *oauth.Token, retake func()) {
	t.Helper()
	url = newDatabase(t)
	noticed, release := make(chan struct{}), make(chan struct{})
	d = watchedNode(t, url, nil, func() {
		close(noticed)
		<-release
	})
	tok = corpToken(t, d)
	var once sync.Once
	retake = func() { once.Do(func() { close(release) }) }
	t.Cleanup(retake)
	cut(t, raw(t, url))
	select {
	case <-noticed:
	case <-time.After(5 * time.Second):
		t.Fatal("the node did not notice its connection cut within 5 s")
	}
	return url, d, tok, retake
}

// TestLostNodeWritesNoTokenAfterChange: a node whose connection holding
// the lock is cut, and which has not taken it again, writes no token once
// another node has changed the partitioning: its revocation of a token the
// change moved to another table fails, rather than update the table the
// token left and revoke nothing. It writes none after it has found the
// change, either.
func TestLostNodeWritesNoTokenAfterChange(t *testing.T) {
	url, d, tok, retake := lostNode(t)
	other := open(t, url)
	if err := other.PartitionTokens(t.Context(), []oauth.Partition{{Domain: "CORP", Name: "b"}}); err != nil {
		t.Fatalf("another node changing the partitioning while the lock is free: %v", err)
	}
	if err := d.RevokeToken(t.Context(), tok.AccessHash); !errors.Is(err, ErrPartitioningNotHeld) || !errors.Is(err, oauth.ErrUnavailable) {
		t.Errorf("the cut node revoking a token the change moved: %v; want ErrPartitioningNotHeld, oauth.ErrUnavailable", err)
	}
	if info, err := other.AccessToken(t.Context(), tok.AccessHash); err != nil || info.Revoked || info.Partition != "CORP" {
		t.Errorf("the moved token on the other node: %+v, %v; want it unrevoked, in CORP's partition", info, err)
	}

	retake() // the node sees the change and fails
	select {
	case <-d.Failed():
	case <-time.After(5 * time.Second):
		t.Fatal("the node has not failed 5 s after the change")
	}
	if err := d.RevokeToken(t.Context(), tok.AccessHash); !errors.Is(err, ErrPartitioningNotHeld) {
		t.Errorf("the failed node revoking a token: %v; want ErrPartitioningNotHeld", err)
	}
}

// TestChangeWaitsForTokenWrites: a change of the partitioning waits for
// the token writes under way on a node that lost its hold and has not
// noticed yet, so that none lands by the old partitioning after the
// tokens moved.
func TestChangeWaitsForTokenWrites(t *testing.T) {
	url, d, tok, _ := lostNode(t)
	inWrite, finish, written := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	var finished sync.Once
	end := func() { finished.Do(func() { close(finish) }) }
	t.Cleanup(end) // before d's Close, which waits for the write's connection
	go func() {
		written <- d.tokenTx(t.Context(), func(tx pgx.Tx) error {
			close(inWrite)
			<-finish
			_, err := tx.Exec(t.Context(), `UPDATE tokens SET revoked = true WHERE access_hash = $1`, tok.AccessHash[:])
			return err
		})
	}()
	select {
	case <-inWrite:
	case err := <-written:
		t.Fatalf("the token write ended before it began: %v", err)
	}

	other, changed := open(t, url), make(chan error, 1)
	go func() { changed <- other.PartitionTokens(t.Context(), []oauth.Partition{{Domain: "CORP", Name: "b"}}) }()
	waitLock(t, raw(t, url), writeGuard, "ExclusiveLock", false) // the change waits for the write
	select {
	case err := <-changed:
		t.Fatalf("the change ended (%v) while a token write of the cut node was under way", err)
	default:
	}
	end()
	for what, ended := range map[string]chan error{"the token write under way": written, "the change": changed} {
		select {
		case err := <-ended:
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s has not ended 10 s after the write was let go", what)
		}
	}
	// The revocation landed first, and moved with the token.
	if info, err := other.AccessToken(t.Context(), tok.AccessHash); err != nil || !info.Revoked || info.Partition != "CORP" {
		t.Errorf("the token after the change: %+v, %v; want it revoked, in CORP's partition", info, err)
	}
}

// waitLock waits, up to 5 s, until a backend holds (granted) or waits for
// the advisory lock key in mode.
func waitLock(t *testing.T, conn *pgx.Conn, key int64, mode string, granted bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var n int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
			AND classid = ($1::bigint >> 32)::oid AND objid = ($1::bigint & 4294967295)::oid AND mode = $2 AND granted = $3`,
			key, mode, granted).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no backend %s the advisory lock %#x in %s after 5 s", map[bool]string{true: "holds", false: "waits for"}[granted], key, mode)
		}
	}
}

// TestChangeDiesWithItsLock: a change whose connection holding the locks
// is lost midway rolls back with them, so that a node that lost its hold
// and takes the lock again meanwhile, finding the partitioning unchanged,
// does not go on writing by it once the change commits.
func TestChangeDiesWithItsLock(t *testing.T) {
	url, lost, tok, retake := lostNode(t)
	admin, changer, changed := raw(t, url), open(t, url), make(chan error, 1)
	// The change stalls after its fence, at the migration lock.
	if _, err := admin.Exec(t.Context(), `SELECT pg_advisory_lock($1)`, migrateLock); err != nil {
		t.Fatal(err)
	}
	go func() {
		changed <- changer.PartitionTokens(t.Context(), []oauth.Partition{{Domain: "CORP", Name: "b"}})
	}()
	waitLock(t, admin, writeGuard, "ExclusiveLock", true)
	cut(t, admin) // the changer's connection holding the locks
	retake()
	for deadline := time.Now().Add(5 * time.Second); exclusive(t, admin); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the lost node does not hold the lock again 5 s after it was let take it")
		}
	}
	if _, err := admin.Exec(t.Context(), `SELECT pg_advisory_unlock($1)`, migrateLock); err != nil {
		t.Fatal(err)
	}
	if err := <-changed; err == nil {
		t.Error("the change whose connection was lost midway succeeded")
	}
	if got := open(t, url).parts().String(); got != "" || lost.parts().String() != "" {
		t.Errorf("the database's partitioning is %q, the lost node's %q; want both unchanged (none)", got, lost.parts())
	}
	if err := lost.RevokeToken(t.Context(), tok.AccessHash); err != nil {
		t.Fatal(err)
	}
	if info, err := admin.Exec(t.Context(), `SELECT 1 FROM tokens WHERE access_hash = $1 AND revoked`, tok.AccessHash[:]); err != nil || info.RowsAffected() != 1 {
		t.Errorf("the token after the lost node revoked it: %v, %v; want revoked in tokens", info, err)
	}
	notFailed(t, lost)
}

// TestClosedNodeLeavesNoRow: a node that stops deletes its row in
// partition_nodes.
func TestClosedNodeLeavesNoRow(t *testing.T) {
	url := newDatabase(t)
	admin := raw(t, url)
	count := func() (n int) {
		t.Helper()
		if err := admin.QueryRow(t.Context(), `SELECT count(*) FROM partition_nodes`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	d := open(t, url)
	if err := d.PartitionTokens(t.Context(), corpA); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d rows in partition_nodes with one node running; want 1", n)
	}
	d.Close()
	if n := count(); n != 0 {
		t.Errorf("%d rows in partition_nodes after the node stopped; want 0", n)
	}
}

// TestNodeFailsWhenPartitioningChanged: another node that changes the
// partitioning while the node's connection is cut makes the node fail,
// once it holds the lock again and sees the change; it makes no node
// connection after that.
func TestNodeFailsWhenPartitioningChanged(t *testing.T) {
	url := newDatabase(t)
	noticed, changed := make(chan struct{}), make(chan struct{})
	d := watchedNode(t, url, corpA, func() {
		close(noticed)
		<-changed
	})
	cut(t, raw(t, url))
	select {
	case <-noticed:
	case <-time.After(5 * time.Second):
		t.Fatal("the node did not notice its connection cut within 5 s")
	}
	other := open(t, url)
	err := other.PartitionTokens(t.Context(), []oauth.Partition{{Domain: "CORP", Name: "b"}})
	close(changed)
	if err != nil {
		t.Fatalf("another node changing the partitioning while the lock is free: %v", err)
	}
	select {
	case err := <-d.Failed():
		if !errors.Is(err, ErrPartitioningChanged) || !strings.Contains(err.Error(), `it is "CORP:b", this node's was "CORP:a"`) {
			t.Errorf("the node failed with %v; want ErrPartitioningChanged naming both", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the node has not failed 5 s after the change")
	}
	if err := d.PartitionTokens(t.Context(), []oauth.Partition{{Domain: "CORP", Name: "b"}}); !errors.Is(err, ErrPartitioningChanged) {
		t.Errorf("PartitionTokens after the failure: %v; want ErrPartitioningChanged", err)
	}
}

// TestNodeCloseEndsWatch: Close ends the watcher, also while it waits to
// take the lock again, and the node's connection with its hold.
func TestNodeCloseEndsWatch(t *testing.T) {
	url := newDatabase(t)
	admin := raw(t, url)
	for name, cutFirst := range map[string]bool{"holding the lock": false, "waiting for it": true} {
		t.Run(name, func(t *testing.T) {
			retaking, locked := make(chan struct{}), make(chan struct{})
			d := watchedNode(t, url, nil, func() {
				close(retaking)
				<-locked
			})
			if cutFirst {
				cut(t, admin)
				<-retaking
				// The lock exclusive elsewhere: the node waits to take it shared.
				if _, err := admin.Exec(t.Context(), `SELECT pg_advisory_lock($1)`, partitionLock); err != nil {
					t.Fatal(err)
				}
				defer admin.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, partitionLock)
				close(locked)
				time.Sleep(100 * time.Millisecond)
			}
			start := time.Now()
			d.Close()
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("Close took %v", took)
			}
			if n := watchers(); n != 0 {
				t.Errorf("%d node watchers 1 s after Close", n)
			}
			// The server ends a backend a moment after its client leaves.
			for deadline := time.Now().Add(time.Second); len(pgtest.SharedLockHolders(t, admin)) != 0; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("backends holding partitionLock shared 1 s after Close: %v", pgtest.SharedLockHolders(t, admin))
				}
			}
		})
	}
}

// watchers counts the goroutines running watchNode, giving those that
// have closed their done channel up to a second to end.
func watchers() int {
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(time.Second)
	for {
		n := strings.Count(string(buf[:runtime.Stack(buf, true)]), "postgres.(*DB).watchNode(")
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}
