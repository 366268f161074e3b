package oauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Token partitioning (issue 16, WSO2's "user token partitioning"): the
// access and refresh tokens of the users of some user-store domains are
// kept in tables of their own. A token names its partition itself, so
// that a lookup goes straight to one table: an opaque token, refresh token
// or authorization code of a partitioned domain is DOMAIN.random (the
// random part, base64url, has no dot), a JWT access token carries the
// domain in its "partition" claim. Tokens of the default partition are as
// they always were. The marker only routes the lookup: the row is still
// found by the hash of the whole string, so a forged marker finds nothing.

// Partition is one entry of --token-partitioning: the tokens of the users of
// Domain are kept in the table tokens_Name.
type Partition struct {
	Domain string // user-store domain, upper case
	Name   string // lower case; the table is tokens_<name>
}

var partitionWord = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// ParsePartitioning reads --token-partitioning: DOMAIN:NAME pairs separated
// by commas ("CORP:A,PARTNERS:B"); empty is no partitioning. See
// CheckPartitions.
func ParsePartitioning(s string) ([]Partition, error) {
	var ps []Partition
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		domain, name, ok := strings.Cut(item, ":")
		if !ok {
			return nil, fmt.Errorf("token partitioning %q: want DOMAIN:NAME", item)
		}
		ps = append(ps, Partition{Domain: domain, Name: name})
	}
	return CheckPartitions(ps)
}

// CheckPartitions returns ps with upper-case domains and lower-case names,
// or an error: domains are letters, digits, - and _, names letters, digits
// and _ (a table name is made of them), each appears once.
func CheckPartitions(ps []Partition) ([]Partition, error) {
	out := make([]Partition, 0, len(ps))
	seen := map[string]bool{}
	for _, p := range ps {
		if !partitionWord.MatchString(p.Domain) || !partitionWord.MatchString(p.Name) || strings.Contains(p.Name, "-") {
			return nil, fmt.Errorf("token partitioning %s:%s: want DOMAIN:NAME, of letters, digits and _ (and - in a domain)", p.Domain, p.Name)
		}
		p = Partition{Domain: strings.ToUpper(p.Domain), Name: strings.ToLower(p.Name)}
		if seen["d"+p.Domain] || seen["n"+p.Name] {
			return nil, fmt.Errorf("token partitioning %s:%s: domain or name given twice", p.Domain, p.Name)
		}
		seen["d"+p.Domain], seen["n"+p.Name] = true, true
		out = append(out, p)
	}
	return out, nil
}

// SetTokenPartitioning makes the tokens of the users of the partitioned
// domains name their domain (see Partition); domainOf returns the user-store
// domain of a username ("" for the primary store). Call it before serving,
// with the partitions the store was given.
func (s *Server) SetTokenPartitioning(ps []Partition, domainOf func(username string) string) {
	s.partitioned = map[string]bool{}
	for _, p := range ps {
		s.partitioned[strings.ToUpper(p.Domain)] = true
	}
	s.domainOf = domainOf
}

// partitionOf returns the partition domain of the tokens of username: its
// user-store domain when that is partitioned, else "".
func (s *Server) partitionOf(username string) string {
	if len(s.partitioned) == 0 || s.domainOf == nil {
		return ""
	}
	if d := strings.ToUpper(s.domainOf(username)); s.partitioned[d] {
		return d
	}
	return ""
}

// markToken puts the partition marker on a random token string.
func markToken(partition, random string) string {
	if partition == "" {
		return random
	}
	return partition + "." + random
}

// PartitionOf returns the partition a token string names: the domain before
// the dot of a marked opaque token or code, the partition claim of a JWT,
// "" for the default partition (or a string that is neither).
func PartitionOf(token string) string {
	switch strings.Count(token, ".") {
	case 1:
		domain, _, _ := strings.Cut(token, ".")
		if partitionWord.MatchString(domain) {
			return strings.ToUpper(domain)
		}
	case 2:
		_, rest, _ := strings.Cut(token, ".")
		payload, _, _ := strings.Cut(rest, ".")
		b, err := base64.RawURLEncoding.DecodeString(payload)
		if err != nil {
			return ""
		}
		var c struct {
			Partition string `json:"partition"`
		}
		if json.Unmarshal(b, &c) == nil && partitionWord.MatchString(c.Partition) {
			return strings.ToUpper(c.Partition)
		}
	}
	return ""
}

type partitionCtx struct{}

// InPartition returns ctx for a store call on a token of the partition (a
// domain; "" the default one): the TokenStore methods that get a hash
// rather than a Token look in that partition's table only.
func InPartition(ctx context.Context, partition string) context.Context {
	return context.WithValue(ctx, partitionCtx{}, partition)
}

// PartitionFrom returns the partition InPartition put on ctx, "" when none.
func PartitionFrom(ctx context.Context) string {
	p, _ := ctx.Value(partitionCtx{}).(string)
	return p
}

// forToken is InPartition for the partition a token string names.
func forToken(ctx context.Context, token string) context.Context {
	return InPartition(ctx, PartitionOf(token))
}
