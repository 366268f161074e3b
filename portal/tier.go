package portal

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Tier is a throttling tier of a tenant: a limit of requests per minute
// on each subscription to the tenant's APIs on it. A tenant's tiers are the
// default ones (Tiers, whose limits the gateway's --tier-… flags set) with
// the tenant's own laid over them (TenantTiers).
type Tier struct {
	TenantID    int64
	Name        string
	RPM         int // requests per minute; 0: unlimited
	Description string
	// Custom: the tenant set the tier (its own, or a default tier's limit
	// for the tenant only); otherwise it is a default tier as the gateway's
	// flags have it, RPM unknown here.
	Custom bool
}

// TierKey names a tier of a tenant.
type TierKey struct {
	TenantID int64
	Name     string
}

// MaxTierRPM bounds a tier's limit, so a typo cannot overflow a counter.
const MaxTierRPM = 100_000_000

// ValidTierName reports whether name may name a tier: 1 to 32 letters,
// digits, '-' or '_', beginning with a letter (a tier's name appears in
// forms, headers and backend JWTs).
func ValidTierName(name string) bool {
	if name == "" || len(name) > 32 || !(name[0] >= 'A' && name[0] <= 'Z' || name[0] >= 'a' && name[0] <= 'z') {
		return false
	}
	for _, r := range name {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// CheckTierName accepts the name of a tier a tenant may set: a valid name
// (ValidTierName) other than Unlimited, which is never limited.
func CheckTierName(name string) error {
	switch {
	case !ValidTierName(name):
		return errors.New("1 to 32 letters, digits, - or _, beginning with a letter, e.g. Platinum")
	case name == "Unlimited":
		return errors.New("Unlimited is never limited; name another tier")
	}
	return nil
}

// CheckTierRPM accepts a tier's limit: 0 (unlimited) to MaxTierRPM
// requests per minute.
func CheckTierRPM(rpm int) error {
	if rpm < 0 || rpm > MaxTierRPM {
		return fmt.Errorf("requests per minute, 0 (unlimited) to %d", MaxTierRPM)
	}
	return nil
}

// RPMText is a limit in words: "120 requests per minute", or "unlimited"
// for 0.
func RPMText(rpm int) string {
	if rpm == 0 {
		return "unlimited"
	}
	return strconv.Itoa(rpm) + " requests per minute"
}

// Limit is the tier's limit in words: its own (RPMText), unlimited for
// Unlimited, or the gateway flag's that sets a default tier the tenant did
// not set.
func (t Tier) Limit() string {
	switch {
	case t.Name == "Unlimited":
		return "unlimited"
	case !t.Custom:
		return "the gateway's --tier-" + strings.ToLower(t.Name)
	}
	return RPMText(t.RPM)
}

// IsDefaultTier reports whether name is one of the default tiers, which
// every tenant has.
func IsDefaultTier(name string) bool { return slices.Contains(Tiers, name) }

// TenantTiers is a tenant's tiers, given the ones it set (custom): the
// default tiers in their order, each replaced by the tenant's own of that
// name, then the tenant's others by name.
func TenantTiers(custom []Tier) []Tier {
	out := make([]Tier, 0, len(Tiers)+len(custom))
	for _, name := range Tiers {
		if i := slices.IndexFunc(custom, func(t Tier) bool { return t.Name == name }); i >= 0 {
			out = append(out, custom[i])
		} else {
			out = append(out, Tier{Name: name})
		}
	}
	var own []Tier
	for _, t := range custom {
		if !IsDefaultTier(t.Name) {
			own = append(own, t)
		}
	}
	slices.SortFunc(own, func(a, b Tier) int { return strings.Compare(a.Name, b.Name) })
	return append(out, own...)
}

// TierNames lists the names of tiers.
func TierNames(tiers []Tier) []string {
	names := make([]string, len(tiers))
	for i, t := range tiers {
		names[i] = t.Name
	}
	return names
}
