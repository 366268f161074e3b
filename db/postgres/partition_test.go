package postgres

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apistore/apistore/internal/pgtest"
	"github.com/apistore/apistore/oauth"
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
