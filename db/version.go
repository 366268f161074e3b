package db

import (
	"context"
	"fmt"
	"os"
)

// walIndexHeaderSize covers both copies of SQLite's wal-index header at the
// start of the -shm file (https://www.sqlite.org/walformat.html §2.2). Every
// commit, by any connection of any process, rewrites it (mxFrame, iChange,
// checksums) before the commit returns; a checkpoint that restarts the WAL
// changes its salts.
const walIndexHeaderSize = 96

// Version identifies the database's committed state: two values are equal
// only if no write ending access was made by this process and nothing was
// committed by anyone in between. Caches (the gateway's) compare it on
// every request.
type Version struct {
	access uint64                   // AccessGeneration
	wal    [walIndexHeaderSize]byte // the wal-index header, when readable
	data   int64                    // PRAGMA data_version, when it is not
}

// Version reads the database's current Version. Reading the wal-index
// header costs one pread(2); SQLite's PRAGMA data_version on a dedicated
// connection (which sees commits of other connections and processes) is the
// fallback when the -shm file cannot be read.
func (d *DB) Version(ctx context.Context) (Version, error) {
	v := Version{access: d.accessGen.Load()}
	if d.shm != nil {
		if _, err := d.shm.ReadAt(v.wal[:], 0); err == nil {
			return v, nil
		}
	}
	if err := d.dataVersionQ.QueryRowContext(ctx).Scan(&v.data); err != nil {
		return Version{}, fmt.Errorf("read data version: %w", err)
	}
	return v, nil
}

// openWALIndex opens the -shm file of the database at path for reading, or
// returns nil. It exists while connections are open in WAL mode, which the
// dedicated watch connection guarantees from its first query.
func openWALIndex(path string) *os.File {
	f, err := os.Open(path + "-shm")
	if err != nil {
		return nil
	}
	return f
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
