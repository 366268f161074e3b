package dbtest

import (
	"reflect"
	"testing"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
)

func testLifecycle(t *testing.T, s *suite) {
	t.Run("both handles answer and name the same database", func(t *testing.T) {
		d, again := s.open(t)
		other := again(t)
		for i, h := range []db.Store{d, other} {
			if err := h.Ping(t.Context()); err != nil {
				t.Errorf("Ping of handle %d: %v", i, err)
			}
		}
		if d.Location() == "" || d.Location() != other.Location() {
			t.Errorf("locations %q and %q; want one, the same", d.Location(), other.Location())
		}
	})

	t.Run("a closed handle refuses work; the other goes on", func(t *testing.T) {
		d, again := s.open(t)
		closing := again(t)
		alice := user(t, d, "alice")
		key, _ := fixture.App(t, d, alice, "App")
		if err := closing.Close(); err != nil {
			t.Fatal(err)
		}
		if err := closing.CreateToken(t.Context(), token(key, alice, oauth.GrantPassword)); err == nil {
			t.Error("CreateToken after Close succeeded")
		}
		if err := closing.PutScope(t.Context(), "", oauth.Scope{Name: "read"}); err == nil {
			t.Error("PutScope after Close succeeded")
		}
		if _, err := closing.UserAccount(t.Context(), "alice"); err == nil {
			t.Error("UserAccount after Close succeeded")
		}
		if err := closing.Ping(t.Context()); err == nil {
			t.Error("Ping after Close succeeded")
		}
		save(t, d, token(key, alice, oauth.GrantPassword))
		if _, err := d.UserAccount(t.Context(), "alice"); err != nil {
			t.Errorf("the other handle: %v", err)
		}
	})
}

// covered names the methods of db.Store the suite exercises, each in the
// group that does. A method added to the interface fails testEveryMethod
// until it has a test here.
var covered = map[string]string{
	"ClientByKey": "Applications", "UserByName": "Users", "UserRoles": "Users", "ScopesByName": "Scopes",
	"CreateToken": "Tokens", "AccessToken": "Tokens", "RefreshToken": "Tokens", "RotateRefresh": "Tokens",
	"RevokeFamily": "Tokens", "RefreshTokenInfo": "Tokens", "RevokeToken": "Tokens",
	"RotateRefreshKeeping": "KeptAnswers", "KeptAnswer": "KeptAnswers", "DeleteStaleKeptAnswers": "KeptAnswers",
	"CreateCode": "Codes", "CodeByHash": "Codes", "RedeemCode": "Codes",
	"Generation": "Generation",
	"Close":      "Lifecycle", "Ping": "Lifecycle", "Location": "Lifecycle",
	"CreateUser": "Users", "UserAccount": "Users", "UserByID": "Users", "DeleteUser": "Users",
	"CreateSession": "Sessions", "SessionUser": "Sessions", "DeleteSession": "Sessions", "SessionKeys": "SessionKeys",
	"SigningKeys": "SigningKeys", "AddSigningKey": "SigningKeys", "KeepSigningKey": "SigningKeys",
	"LoginCounts": "LoginCounters", "ReserveLogin": "LoginCounters", "SettleLogin": "LoginCounters",
	"ClearLoginFailures": "LoginCounters", "DeleteStaleLoginCounts": "LoginCounters",
	"CreateApplication": "Applications", "CreateApplicationWithKeys": "Applications", "ApplicationsByOwner": "Applications",
	"OwnedApplication": "Applications", "UpdateApplication": "Applications", "DeleteApplication": "Applications",
	"SetApplicationTLSAuth": "MutualTLS", "CreateKey": "Keys", "KeysOfApplication": "Keys", "ReplaceSecret": "Keys", "RevokeApplicationTokens": "Keys",
	"UpdateKeySettings": "Keys",
	"PutScope":          "Scopes", "Scopes": "Scopes",
	"PutTier": "Tiers", "DeleteTier": "Tiers", "Tiers": "Tiers", "CustomTiers": "Tiers",
	"CreateAPI": "APIs", "ImportAPI": "APIs", "UpdateAPI": "APIs", "SetAPIStatus": "APIs", "PublishedAPIs": "APIs",
	"AllAPIs": "APIs", "APIByID": "APIs", "APIByContext": "APIs", "SeedSample": "APIs", "PointSampleAPI": "APIs",
	"Subscribe": "Subscriptions", "Unsubscribe": "Subscriptions", "SubscriptionTier": "Subscriptions",
	"SubscriptionsOfApplication": "Subscriptions", "SubscriptionsToAPI": "Subscriptions", "SubscriptionsOfAPI": "Subscriptions",
	"TakeQuota": "Quota", "DeleteQuotasBefore": "Quota",
	"SaveConsent": "Consents", "RememberedScopes": "Consents", "Consents": "Consents", "RevokeConsent": "Consents",
	"RecordUsage": "Usage", "UsageOf": "Usage", "DeleteUsageBefore": "Usage",
	"UsageCalls": "Rollups", "UsageCallsByAPI": "Rollups", "UsageCallsByKind": "Rollups", "UsageResources": "Rollups", "UsageLatencies": "Rollups", "UsageApps": "Rollups", "UsageTopApps": "Rollups", "AuditCounts": "Rollups", "TokenCounts": "Rollups", "DeleteRollupsBefore": "Rollups",
	"RecordAudit": "Audit", "AuditEvents": "Audit", "DeleteAuditBefore": "Audit",
	"CreateTokens": "Tokens", "DeleteStaleTokens": "Tokens", "DeleteStaleCodes": "Codes",
	"RunAlone":   "RunAlone",
	"SearchAPIs": "Search", "PublishedTags": "Search",
	"UseProof": "DPoP", "DeleteStaleProofs": "DPoP", "SetApplicationDPoP": "DPoP",
	"CreateDoc": "Docs", "UpdateDoc": "Docs", "DeleteDoc": "Docs", "DocOfAPI": "Docs", "DocsOfAPI": "Docs",
	"CreateUserStore": "UserStores", "UserStores": "UserStores", "UpsertStoreUser": "UserStores",
	"StoreUsers": "UserStores", "SetDisabledByStore": "UserStores",
	"PartitionTokens": "Partitions", "Failed": "Partitions",
	"CreateTenant": "Tenants", "Tenants": "Tenants", "TenantByDomain": "Tenants", "SetTenantActive": "Tenants", "SeedTenants": "Tenants",
}

func testEveryMethod(t *testing.T, _ *suite) {
	store := reflect.TypeFor[db.Store]()
	for i := range store.NumMethod() {
		if m := store.Method(i).Name; covered[m] == "" {
			t.Errorf("db.Store.%s has no conformance test: add one and name its group in covered", m)
		}
	}
	for m := range covered {
		if _, ok := store.MethodByName(m); !ok {
			t.Errorf("covered names %s, which db.Store no longer has", m)
		}
	}
}
