package rowmap

import (
	"time"

	"github.com/apistore/apistore/portal"
)

// CallCount scans a row of bucket, application, API, key type, status,
// fault, calls and latency (µs) into a call count of span.
func CallCount(span time.Duration) func(Row) (portal.CallCount, error) {
	return func(row Row) (portal.CallCount, error) {
		c := portal.CallCount{Span: span}
		var bucket, latency int64
		err := row.Scan(&bucket, &c.AppID, &c.APIID, &c.KeyType, &c.Status, &c.Fault, &c.Calls, &latency)
		c.Bucket, c.Latency = time.Unix(bucket, 0).UTC(), time.Duration(latency)*time.Microsecond
		return c, err
	}
}

// ResourceCount scans a row of API, method, resource, calls and errors
// into a resource count of q's span and application.
func ResourceCount(q portal.UsageQuery) func(Row) (portal.ResourceCount, error) {
	return func(row Row) (portal.ResourceCount, error) {
		c := portal.ResourceCount{Span: q.Span, AppID: q.AppID}
		err := row.Scan(&c.APIID, &c.Method, &c.Resource, &c.Calls, &c.Errors)
		return c, err
	}
}

// LatencyCount scans a row of bucket, bin and calls into a latency count
// of q's span, application and API.
func LatencyCount(q portal.UsageQuery) func(Row) (portal.LatencyCount, error) {
	return func(row Row) (portal.LatencyCount, error) {
		c := portal.LatencyCount{Span: q.Span, AppID: q.AppID, APIID: q.APIID}
		var bucket int64
		err := row.Scan(&bucket, &c.Bin, &c.Calls)
		c.Bucket = time.Unix(bucket, 0).UTC()
		return c, err
	}
}

// AppCount scans a row of bucket, application, API, calls and errors into
// an application count of span.
func AppCount(span time.Duration) func(Row) (portal.AppCount, error) {
	return func(row Row) (portal.AppCount, error) {
		c := portal.AppCount{Span: span}
		var bucket int64
		err := row.Scan(&bucket, &c.AppID, &c.APIID, &c.Calls, &c.Errors)
		c.Bucket = time.Unix(bucket, 0).UTC()
		return c, err
	}
}

// TopApp scans a row of application, calls and errors into an
// application count of q, summed over its buckets (Bucket is q.From).
func TopApp(q portal.UsageQuery) func(Row) (portal.AppCount, error) {
	return func(row Row) (portal.AppCount, error) {
		c := portal.AppCount{Span: q.Span, Bucket: q.From, APIID: q.APIID}
		err := row.Scan(&c.AppID, &c.Calls, &c.Errors)
		return c, err
	}
}

// UsageColumns are the columns of api_usage that Usage scans.
const UsageColumns = `at, app_id, api_id, api_name, api_version, method, resource, key_type, status, fault, latency_us`

// Usage scans a row of UsageColumns.
func Usage(row Row) (portal.Usage, error) {
	var u portal.Usage
	var at, latency int64
	err := row.Scan(&at, &u.AppID, &u.APIID, &u.APIName, &u.APIVersion, &u.Method, &u.Resource, &u.KeyType,
		&u.Status, &u.Fault, &latency)
	u.At, u.Latency = time.UnixMilli(at), time.Duration(latency)*time.Microsecond
	return u, err
}

// EventCount scans a row of bucket (Unix seconds), name and count.
func EventCount(row Row) (portal.EventCount, error) {
	var c portal.EventCount
	var bucket int64
	err := row.Scan(&bucket, &c.Name, &c.Count)
	c.Bucket = time.Unix(bucket, 0).UTC()
	return c, err
}
