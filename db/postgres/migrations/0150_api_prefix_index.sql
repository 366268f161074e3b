-- The gateway serves an API at context/version, and no API's prefix may
-- begin another's (checkOverlap). With tens of thousands of APIs (5,000
-- tenants of 10, BenchmarkTenants) reading every API's prefix at each
-- create or edit was the cost of adding one: this index finds the prefixes
-- that begin the new one (equality) and those it begins (a byte-wise
-- range, hence COLLATE "C").
CREATE INDEX apis_prefix ON apis (((context || '/' || version) COLLATE "C"));
