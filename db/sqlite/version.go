package sqlite

import (
	"context"
	"fmt"
)

// walIndexHeaderSize covers both copies of SQLite's wal-index header at the
// start of the -shm file (https://www.sqlite.org/walformat.html §2.2). Every
// commit, by any connection of any process, rewrites it (mxFrame, iChange,
// checksums) before the commit returns; a checkpoint that restarts the WAL
// changes its salts.
const walIndexHeaderSize = 96

// versionCheck is an access generation read, and the wal-index header seen
// just before reading it.
type versionCheck struct {
	wal [walIndexHeaderSize]byte
	gen uint64
}

// Generation reads the access generation (migration 0023): every change
// that a cache of validations could see bumps it by trigger, in the same
// transaction, whatever connection or process makes it, so two equal
// values mean nothing such was committed in between. Commits that change
// nothing cached, such as new tokens, leave it as it is.
//
// While the wal-index header (a memory copy: see walIndex) is the one seen when the
// generation was last read, nothing has been committed since, and the
// generation read then holds; after a commit it is read again, once, on the
// dedicated watch connection. Without a readable -shm file it is read every
// time.
func (d *DB) Generation(ctx context.Context) (uint64, error) {
	var wal [walIndexHeaderSize]byte
	seen := d.shm != nil && d.shm.read(&wal)
	if c := d.lastCheck.Load(); seen && c != nil && c.wal == wal {
		return c.gen, nil
	}
	d.genMu.Lock()
	defer d.genMu.Unlock()
	if c := d.lastCheck.Load(); seen && c != nil && c.wal == wal { // read meanwhile by another caller
		return c.gen, nil
	}
	var gen int64
	if err := d.genQ.QueryRowContext(ctx).Scan(&gen); err != nil {
		return 0, fmt.Errorf("read access generation: %w", err)
	}
	if seen {
		d.lastCheck.Store(&versionCheck{wal: wal, gen: uint64(gen)})
	}
	return uint64(gen), nil
}

// SubscriptionTier returns the id and tier of an application's subscription
// to an API, or ErrNotFound when it is not subscribed.
func (d *DB) SubscriptionTier(ctx context.Context, appID, apiID int64) (id int64, tier string, err error) {
	err = d.r.QueryRowContext(ctx, `SELECT id, tier FROM subscriptions WHERE app_id = ? AND api_id = ?`, appID, apiID).Scan(&id, &tier)
	if err != nil {
		return 0, "", notFound(fmt.Sprintf("subscription of application %d to API %d", appID, apiID), err)
	}
	return id, tier, nil
}
