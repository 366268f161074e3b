package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/apistore/apistore/db/internal/partition"
	"github.com/apistore/apistore/oauth"
)

// Token partitioning, as in package sqlite; a partition's table is made
// LIKE tokens, with the foreign keys and triggers LIKE leaves out.

// parts returns the partitioning in use.
func (d *DB) parts() *partition.Set { return d.partitions.Load() }

// execTokens runs q, whose {tokens} stands for a token table, on every
// partition's table in tx, a tokenTx, and returns the rows changed.
func (d *DB) execTokens(ctx context.Context, tx querier, q string, args ...any) (int64, error) {
	return d.parts().Sum(func(table string) (int64, error) {
		tag, err := exec(ctx, tx, partition.On(q, table), args...)
		return tag.RowsAffected(), err
	})
}

// stringsOn is a partition.Query on q (the pool or a transaction).
func stringsOn(ctx context.Context, q querier) partition.Query {
	return func(query string, args ...any) ([]string, error) {
		rows, err := q.Query(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[string])
	}
}

// noRows is partition.Set.Lookup's missing.
func noRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// partitionLock is the advisory lock key that every node holds shared,
// on a connection of its own, from the moment it has made or accepted the
// database's token partitioning until it closes: a node may change the
// partitioning only with the lock exclusive, so only while no other node
// runs, and every running node uses the one mapping.
const partitionLock int64 = 0x61706973746f7270

// ErrPartitioningInUse is wrapped by PartitionTokens when it would change
// the token partitioning while other nodes run with the database's.
var ErrPartitioningInUse = errors.New("other nodes are running with the database's token partitioning")

// PartitionTokens makes the database's token partitioning ps, moving
// tokens (partition.Change), in one transaction under the migration lock:
// nodes starting together take turns. A node whose ps differs from the
// database's while other nodes run is refused (ErrPartitioningInUse): the
// nodes of a cluster share one partitioning, changed when none runs. The
// node then holds partitionLock shared until Close, taking it again when
// its connection is lost (watchNode), and joins partition_nodes (join). A
// change first fences the other nodes' token writes off (fence), not the
// node's own: it runs before the node serves.
func (d *DB) PartitionTokens(ctx context.Context, ps []oauth.Partition) (err error) {
	ps, err = oauth.CheckPartitions(ps)
	if err != nil {
		return fmt.Errorf("token partitioning: %w", err)
	}
	d.nodeMu.Lock()
	defer d.nodeMu.Unlock()
	conn, err := d.nodeConn(ctx)
	if err != nil {
		return fmt.Errorf("token partitioning: %w", err)
	}
	cur, err := partition.Read(stringsOn(ctx, conn))
	if err != nil {
		return err
	}
	if !cur.Is(ps) {
		// Exclusive only when no other node holds it shared (this one's
		// own shared hold does not count).
		var alone bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, partitionLock).Scan(&alone); err != nil {
			return fmt.Errorf("token partitioning: %w", err)
		}
		if !alone {
			return fmt.Errorf("token partitioning %q: the database's is %q and %w: give this node the same --token-partitioning, or stop every node to change it",
				partitionString(ps), cur.String(), ErrPartitioningInUse)
		}
		defer unlock(ctx, conn, partitionLock, &err)
		if err := d.fence(ctx, conn); err != nil {
			return fmt.Errorf("token partitioning: %w", err)
		}
		defer unlock(ctx, conn, writeGuard, &err)
	}
	defer func() {
		if err == nil {
			err = d.join(ctx, conn)
		}
	}()
	return d.partitions.Change(ps, func(change func(partition.Tx) error) error {
		// On conn, which holds the locks: should it be lost, the change
		// rolls back with them, before a node that lost its hold can
		// take the lock again and find the partitioning unchanged.
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLock); err != nil {
				return err
			}
			return change(partition.Tx{Query: stringsOn(ctx, tx), Columns: `SELECT column_name FROM information_schema.columns
				WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
				Exec: func(q string) error {
					_, err := tx.Exec(ctx, q)
					return err
				},
				CopyTokens: func(table string) error { return copyTokens(ctx, tx, table) },
				IssueCountOff: func(table string) ([]string, []string, error) {
					return []string{`ALTER TABLE ` + table + ` DISABLE TRIGGER tokens_issue_count`},
						[]string{`ALTER TABLE ` + table + ` ENABLE TRIGGER tokens_issue_count`}, nil
				}})
		})
	})
}

// nodeConn returns the node's own connection, which holds partitionLock
// shared, made at the first call, when its watcher (watchNode) starts: it
// waits while another node changes the partitioning. nodeMu is held.
func (d *DB) nodeConn(ctx context.Context) (*pgx.Conn, error) {
	if d.node != nil {
		return d.node, nil
	}
	if d.base.Err() != nil {
		return nil, ErrClosed
	}
	if d.nodeErr != nil {
		return nil, d.nodeErr
	}
	conn, err := d.lockNode(ctx)
	if err != nil {
		return nil, err
	}
	d.node, d.nodeDone = conn, make(chan struct{})
	go d.watchNode(d.nodeDone)
	return conn, nil
}

// lockNode connects and takes partitionLock shared on the connection.
func (d *DB) lockNode(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, d.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock_shared($1)`, partitionLock); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	return conn, nil
}

// closeNode waits for the node's watcher, which ends its connection, and
// with it its hold on partitionLock, once Close has canceled d.base.
func (d *DB) closeNode() {
	d.nodeMu.Lock()
	done := d.nodeDone
	d.nodeMu.Unlock()
	if done != nil {
		<-done
	}
}

// Failed delivers the error that stops this node: the database's token
// partitioning changed while the node's hold on partitionLock was lost.
func (d *DB) Failed() <-chan error { return d.failed }

// ErrPartitioningChanged is wrapped by the error Failed delivers.
var ErrPartitioningChanged = errors.New("the database's token partitioning changed while this node's hold on it was lost")

// nodeWatch is how watchNode watches the node's connection.
type nodeWatch struct {
	every   time.Duration // between pings
	timeout time.Duration // of a ping
	// beforeRetake, when set (by tests), is called once a loss is noticed,
	// before the lock is taken again.
	beforeRetake func()
}

// defaultNodeWatch notices a lost connection within seconds, for one
// round trip each time; the pings also keep the connection from being
// idle (idle_session_timeout).
var defaultNodeWatch = nodeWatch{every: 3 * time.Second, timeout: 5 * time.Second}

// Waits between attempts to take partitionLock again: doubled from the
// first up to the longest while the database cannot be reached.
const (
	retakeFirstWait   = 250 * time.Millisecond
	retakeLongestWait = 10 * time.Second
)

// watchNode pings the node's connection every d.watch.every until Close,
// then ends it. PostgreSQL drops the connection's locks with it (a
// restart, a network cut, pg_terminate_backend, an idle timeout), so on a
// loss the node takes partitionLock shared again on a new connection; if
// the database's partitioning changed meanwhile, Failed delivers the error
// and the watch ends.
func (d *DB) watchNode(done chan<- struct{}) {
	defer close(done)
	defer func() {
		d.nodeMu.Lock()
		defer d.nodeMu.Unlock()
		if d.node != nil {
			d.leave()
			d.node.Close(context.Background())
			d.node = nil
		}
	}()
	tick := time.NewTicker(d.watch.every)
	defer tick.Stop()
	for {
		select {
		case <-d.base.Done():
			return
		case <-tick.C:
		}
		if err := d.checkNode(); err != nil {
			d.failed <- err
			return
		}
	}
}

// checkNode pings the node's connection and, when it is lost, takes
// partitionLock again on a new one, then reads the database's
// partitioning: the same as this node's, it goes on (with what the
// database holds now); another is ErrPartitioningChanged.
func (d *DB) checkNode() error {
	d.nodeMu.Lock()
	defer d.nodeMu.Unlock()
	if d.base.Err() != nil {
		return nil // closing: there may be no connection left to ping
	}
	ctx, cancel := context.WithTimeout(d.base, d.watch.timeout)
	err := d.node.Ping(ctx)
	if err == nil && d.unjoined {
		d.joinAgain(ctx)
	}
	cancel()
	if err == nil || d.base.Err() != nil {
		return nil
	}
	slog.Warn("postgres: the connection holding this node's token partitioning lock is lost; taking the lock again", "err", err)
	d.node.Close(context.Background())
	d.node = nil
	if d.watch.beforeRetake != nil {
		d.watch.beforeRetake()
	}
	var cur *partition.Set
	for wait := retakeFirstWait; ; wait = min(2*wait, retakeLongestWait) {
		if cur, err = d.retake(); err == nil || d.base.Err() != nil {
			break
		}
		slog.Warn("postgres: token partitioning lock not taken again; retrying", "in", wait, "err", err)
		select {
		case <-d.base.Done():
		case <-time.After(wait):
		}
	}
	if d.base.Err() != nil {
		return nil
	}
	if was := d.parts(); !cur.Same(was) {
		d.node.Close(context.Background())
		d.node = nil
		d.nodeErr = fmt.Errorf("%w: it is %q, this node's was %q; this node stops rather than read and write tokens in the wrong tables: start it with --token-partitioning %q",
			ErrPartitioningChanged, cur.String(), was.String(), cur.String())
		return d.nodeErr
	}
	d.partitions.Store(cur)
	ctx, cancel = context.WithTimeout(d.base, d.watch.timeout)
	defer cancel()
	if d.joinAgain(ctx) {
		slog.Info("postgres: this node holds its token partitioning lock again")
	}
	return nil
}

// joinAgain joins partition_nodes again once the node holds the lock
// again and found the partitioning unchanged (its row is still there
// unless a change that then failed deleted it); until it succeeds, at a
// later check, the node's token writes fail. nodeMu is held.
func (d *DB) joinAgain(ctx context.Context) bool {
	if err := d.join(ctx, d.node); err != nil {
		d.unjoined = true
		slog.Warn("postgres: this node holds its token partitioning lock again, but could not record itself in partition_nodes; its token writes fail until it does", "err", err)
		return false
	}
	d.unjoined = false
	return true
}

// retake takes partitionLock shared on a new connection, made the
// node's, and reads the database's partitioning on it.
func (d *DB) retake() (*partition.Set, error) {
	conn, err := d.lockNode(d.base)
	if err != nil {
		return nil, err
	}
	cur, err := partition.Read(stringsOn(d.base, conn))
	if err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	d.node = conn
	return cur, nil
}

// partitionString is ps as --token-partitioning gives it.
func partitionString(ps []oauth.Partition) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Domain + ":" + p.Name
	}
	return strings.Join(out, ",")
}

var triggerOn = regexp.MustCompile(`\sON\s+((?:\S+\.)?)tokens\s`)

// copyTokens makes table LIKE tokens INCLUDING ALL (columns, defaults,
// identity, constraints, indexes), then adds the foreign keys and triggers
// that LIKE leaves out.
func copyTokens(ctx context.Context, tx pgx.Tx, table string) error {
	fks, err := stringsOn(ctx, tx)(`SELECT 'ALTER TABLE ` + table + ` ADD ' || pg_get_constraintdef(oid) FROM pg_constraint
		WHERE conrelid = 'tokens'::regclass AND contype = 'f' ORDER BY conname`)
	if err != nil {
		return fmt.Errorf("copy tokens table: %w", err)
	}
	triggers, err := stringsOn(ctx, tx)(`SELECT pg_get_triggerdef(oid) FROM pg_trigger
		WHERE tgrelid = 'tokens'::regclass AND NOT tgisinternal ORDER BY tgname`)
	if err != nil {
		return fmt.Errorf("copy tokens table: %w", err)
	}
	ddl := append([]string{`CREATE TABLE ` + table + ` (LIKE tokens INCLUDING ALL)`}, fks...)
	for _, t := range triggers {
		out := triggerOn.ReplaceAllString(t, " ON ${1}"+table+" ")
		if out == t {
			return fmt.Errorf("copy tokens table: cannot rename %q", t)
		}
		ddl = append(ddl, out)
	}
	for _, q := range ddl {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("copy tokens table: %q: %w", q, err)
		}
	}
	return nil
}

// unlock lets the advisory lock key go on conn, setting *err if that fails
// and it was nil.
func unlock(ctx context.Context, conn *pgx.Conn, key int64, err *error) {
	if _, uerr := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key); uerr != nil && *err == nil {
		*err = fmt.Errorf("token partitioning: %w", uerr)
	}
}

// Fencing off the token writes of a node that lost its hold. PostgreSQL
// drops partitionLock with the connection holding it, and the node
// notices at its next ping, up to nodeWatch.every later: without more,
// another node could change the partitioning in between, and this one go
// on writing tokens by the old one (a revocation in a table its token has
// left revokes nothing). So a node joins partition_nodes (join) once it
// has read the partitioning holding the lock shared; each of its token
// writes first calls token_partitioning_held in its own transaction
// (tokenExec, tokenTx), which takes writeGuard shared and fails when the
// node's row is gone; and a node that changes the partitioning, holding
// partitionLock exclusive (so no other node holds it), first deletes the
// other nodes' rows and takes writeGuard exclusive (fence), which waits
// for the writes under way. A node whose hold was lost writes tokens
// again only once it has taken the lock again and found the partitioning
// unchanged (checkNode).

// writeGuard is the advisory lock key every token write of a node holds
// shared for its transaction (migration 0160), and a change exclusive.
const writeGuard int64 = 0x61706973746f7277

// ErrPartitioningNotHeld is the error of a token write on a node whose row
// a change of the partitioning deleted: the node lost its hold on
// partitionLock, and the partitioning it writes by may be out of date.
var ErrPartitioningNotHeld = fmt.Errorf("the database's token partitioning may have changed since this node read it; the node will find out within seconds: %w",
	oauth.ErrUnavailable)

// join records the node in partition_nodes on conn, holding partitionLock;
// its token writes are guarded from then on.
func (d *DB) join(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Exec(ctx, `INSERT INTO partition_nodes (node, since) VALUES ($1, $2) ON CONFLICT (node) DO NOTHING`,
		d.nodeID, time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("token partitioning: join: %w", err)
	}
	d.member.Store(true)
	return nil
}

// leave deletes the node's row as it stops. nodeMu is held.
func (d *DB) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// Unsent or failed, the row stays until the next change deletes it.
	_, _ = d.node.Exec(ctx, `DELETE FROM partition_nodes WHERE node = $1`, d.nodeID)
}

// fence deletes the other nodes' rows, then takes writeGuard exclusive on
// conn, once their token writes under way have ended. conn holds
// partitionLock exclusive.
func (d *DB) fence(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Exec(ctx, `DELETE FROM partition_nodes WHERE node <> $1`, d.nodeID); err != nil {
		return err
	}
	_, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, writeGuard)
	return err
}

// guardSQL is the first statement of a node's token write.
const guardSQL = `SELECT token_partitioning_held($1, $2)`

// tokenExec is exec on the pool for a write on the token tables: on a
// node, in one transaction after the guard, sent together.
func (d *DB) tokenExec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if !d.member.Load() {
		return d.exec(ctx, sql, args...)
	}
	if err := checkText(args); err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := retried(func() (tag pgconn.CommandTag, err error) {
		var b pgx.Batch
		b.Queue(guardSQL, d.nodeID, writeGuard)
		b.Queue(sql, args...)
		res := d.pool.SendBatch(ctx, &b) // one implicit transaction
		if _, err = res.Exec(); err == nil {
			tag, err = res.Exec()
		}
		if cerr := res.Close(); err == nil {
			err = cerr
		}
		return tag, err
	})
	return tag, guardError(textError(err))
}

// tokenTx is tx for a transaction that writes the token tables: on a
// node, the guard comes first, before any other lock is taken.
func (d *DB) tokenTx(ctx context.Context, fn func(pgx.Tx) error) error {
	if !d.member.Load() {
		return d.tx(ctx, fn)
	}
	return guardError(d.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, guardSQL, d.nodeID, writeGuard); err != nil {
			return err
		}
		return fn(tx)
	}))
}

// guardError is ErrPartitioningNotHeld for the guard's failure.
func guardError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "AS001" {
		return ErrPartitioningNotHeld
	}
	return err
}
