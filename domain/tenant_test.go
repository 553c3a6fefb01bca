package domain_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"tenant-service/domain"
)

var t0 = time.Date(2026, 11, 27, 14, 2, 0, 0, time.UTC)

func given(events ...domain.Event) *domain.Tenant {
	t := domain.NewTenant(func() time.Time { return t0 })
	for i, e := range events {
		t.Replay(e, t0.Add(time.Duration(i)*time.Second))
	}
	return t
}

const id = domain.TenantID("6b3f1c1e-8f0b-4a7e-9a51-2d0c7e9f1a22")

func ptr[T any](v T) *T { return &v }

// Given events, when a command runs, then these events are recorded (or this error).
func TestCommands(t *testing.T) {
	created := domain.TenantCreated{TenantID: id, Name: "Acme"}
	secret := domain.SecretRef{Ciphertext: "enc:v1:x", Hint: "****abcd"}
	cases := []struct {
		name    string
		given   []domain.Event
		when    func(*domain.Tenant) error
		then    []domain.Event
		errKind domain.Kind
		errCode string
	}{
		{"create", nil, func(t *domain.Tenant) error { return t.Create(id, domain.CreateTenant{Name: "Acme"}) },
			[]domain.Event{created}, 0, ""},
		{"create twice", []domain.Event{created}, func(t *domain.Tenant) error { return t.Create(id, domain.CreateTenant{Name: "Acme"}) },
			nil, domain.KindConflict, "tenant-exists"},
		{"create without name", nil, func(t *domain.Tenant) error { return t.Create(id, domain.CreateTenant{Name: " "}) },
			nil, domain.KindInvalid, "invalid-request"},
		{"update changes only what differs", []domain.Event{created},
			func(t *domain.Tenant) error {
				return t.Update(domain.UpdateTenant{Name: ptr("Acme"), ExternalRef: ptr("crm-1")})
			},
			[]domain.Event{domain.TenantUpdated{ExternalRef: ptr("crm-1")}}, 0, ""},
		{"update with nothing new records nothing", []domain.Event{created},
			func(t *domain.Tenant) error { return t.Update(domain.UpdateTenant{Name: ptr("Acme")}) }, nil, 0, ""},
		{"update unknown tenant", nil, func(t *domain.Tenant) error { return t.Update(domain.UpdateTenant{Name: ptr("x")}) },
			nil, domain.KindNotFound, "tenant-not-found"},
		{"suspend", []domain.Event{created}, func(t *domain.Tenant) error { return t.Suspend("unpaid") },
			[]domain.Event{domain.TenantSuspended{Reason: "unpaid"}}, 0, ""},
		{"suspend twice records nothing", []domain.Event{created, domain.TenantSuspended{}},
			func(t *domain.Tenant) error { return t.Suspend("") }, nil, 0, ""},
		{"reactivate", []domain.Event{created, domain.TenantSuspended{}},
			func(t *domain.Tenant) error { return t.Reactivate("") }, []domain.Event{domain.TenantReactivated{}}, 0, ""},
		{"delete", []domain.Event{created}, func(t *domain.Tenant) error { return t.Delete("") },
			[]domain.Event{domain.TenantDeleted{}}, 0, ""},
		{"no update after delete", []domain.Event{created, domain.TenantDeleted{}},
			func(t *domain.Tenant) error { return t.Update(domain.UpdateTenant{Name: ptr("x")}) }, nil, domain.KindRefused, "tenant-deleted"},
		{"no link after delete", []domain.Event{created, domain.TenantDeleted{}},
			func(t *domain.Tenant) error { return t.LinkWABA(domain.WABALinked{WABAID: "1", PhoneNumberID: "2"}) },
			nil, domain.KindRefused, "tenant-deleted"},
		{"first credentials are set", []domain.Event{created},
			func(t *domain.Tenant) error { return t.SetGenesysCredentials("cid", "mypurecloud.de", secret) },
			[]domain.Event{domain.GenesysCredentialsSet{ClientID: "cid", Region: "mypurecloud.de", ClientSecret: secret}}, 0, ""},
		{"later credentials rotate", []domain.Event{created, domain.GenesysCredentialsSet{ClientID: "a", Region: "mypurecloud.de", ClientSecret: secret}},
			func(t *domain.Tenant) error { return t.SetGenesysCredentials("b", "mypurecloud.ie", secret) },
			[]domain.Event{domain.CredentialsRotated{ClientID: "b", Region: "mypurecloud.ie", ClientSecret: secret}}, 0, ""},
		{"link a number", []domain.Event{created},
			func(t *domain.Tenant) error { return t.LinkWABA(domain.WABALinked{WABAID: "w1", PhoneNumberID: "p1"}) },
			[]domain.Event{domain.WABALinked{WABAID: "w1", PhoneNumberID: "p1", Source: "manual"}}, 0, ""},
		{"relinking the same number records nothing", []domain.Event{created, domain.WABALinked{WABAID: "w1", PhoneNumberID: "p1"}},
			func(t *domain.Tenant) error { return t.LinkWABA(domain.WABALinked{WABAID: "w1", PhoneNumberID: "p1"}) }, nil, 0, ""},
		{"a number of another WABA is refused", []domain.Event{created, domain.WABALinked{WABAID: "w1", PhoneNumberID: "p1"}},
			func(t *domain.Tenant) error { return t.LinkWABA(domain.WABALinked{WABAID: "w2", PhoneNumberID: "p2"}) },
			nil, domain.KindRefused, "waba-mismatch"},
		{"unlink", []domain.Event{created, domain.WABALinked{WABAID: "w1", PhoneNumberID: "p1"}},
			func(t *domain.Tenant) error { return t.UnlinkWABA("p1") },
			[]domain.Event{domain.WABAUnlinked{WABAID: "w1", PhoneNumberID: "p1"}}, 0, ""},
		{"unlink a number not linked", []domain.Event{created},
			func(t *domain.Tenant) error { return t.UnlinkWABA("p9") }, nil, domain.KindNotFound, "phone-number-not-linked"},
		{"bad integration id", []domain.Event{created},
			func(t *domain.Tenant) error { return t.LinkGenesysIntegration("has space", nil) }, nil, domain.KindInvalid, "invalid-request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tenant := given(c.given...)
			err := c.when(tenant)
			if c.errCode != "" {
				de, ok := domain.AsError(err)
				if !ok || de.Kind != c.errKind || de.Code != c.errCode {
					t.Fatalf("err = %v, want %s", err, c.errCode)
				}
				if len(tenant.Pending()) != 0 {
					t.Fatalf("a refused command recorded %v", tenant.Pending())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tenant.Pending(), c.then) {
				t.Fatalf("recorded %#v, want %#v", tenant.Pending(), c.then)
			}
		})
	}
}

func TestStateRebuiltFromEvents(t *testing.T) {
	secret := domain.SecretRef{Ciphertext: "enc:v1:x", Hint: "****abcd"}
	tenant := given(domain.TenantCreated{TenantID: id, Name: "Acme"},
		domain.GenesysIntegrationLinked{IntegrationID: "int-1", WebhookSecret: &secret},
		domain.WABALinked{WABAID: "w1", PhoneNumberID: "p1"}, domain.WABALinked{WABAID: "w1", PhoneNumberID: "p2"},
		domain.WABAUnlinked{WABAID: "w1", PhoneNumberID: "p1"}, domain.TenantSuspended{})
	s := tenant.State()
	if s.Version != 6 || s.Status != domain.StatusSuspended || s.IntegrationID() != "int-1" ||
		!reflect.DeepEqual(s.PhoneNumberIDs(), []string{"p2"}) || !s.UpdatedAt.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("state = %+v", s)
	}
	deleted := given(domain.TenantCreated{TenantID: id, Name: "Acme"},
		domain.GenesysIntegrationLinked{IntegrationID: "int-1", WebhookSecret: &secret},
		domain.WABALinked{WABAID: "w1", PhoneNumberID: "p1"}, domain.TenantDeleted{}).State()
	if deleted.IntegrationID() != "" || len(deleted.PhoneNumberIDs()) != 0 || deleted.Genesys.WebhookSecret != nil {
		t.Fatalf("a deleted tenant keeps claims or secrets: %+v", deleted)
	}
}

func TestEncodeDecodeEveryEventType(t *testing.T) {
	for _, name := range domain.EventTypes() {
		if domain.SchemaVersion(name) < 1 {
			t.Fatalf("%s has no schema version", name)
		}
	}
	e := domain.WABALinked{WABAID: "w", PhoneNumberID: "p", Source: "manual"}
	name, schema, data, err := domain.EncodeEvent(e)
	if err != nil || name != "WABALinked" || schema != 1 {
		t.Fatal(name, schema, err)
	}
	back, err := domain.DecodeEvent(name, schema, data)
	if err != nil || !reflect.DeepEqual(back, e) {
		t.Fatalf("round trip = %#v, %v", back, err)
	}
	if _, err := domain.DecodeEvent("Nope", 1, data); err == nil {
		t.Fatal("unknown type decoded")
	}
	if _, err := domain.DecodeEvent(name, 99, data); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("future schema: %v", err)
	}
}

// TenantCreated schema 1 called the name "displayName"; stored v1 events still load.
func TestUpcastTenantCreatedV1(t *testing.T) {
	v1 := []byte(`{"tenantId":"` + string(id) + `","displayName":"Old Shape","settings":{}}`)
	e, err := domain.DecodeEvent(domain.EventTenantCreated, 1, v1)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.(domain.TenantCreated); got.Name != "Old Shape" || got.TenantID != id {
		t.Fatalf("upcast = %#v", got)
	}
}

func TestSecretHintAndRedaction(t *testing.T) {
	if h := domain.SecretHint("short"); h != "****" {
		t.Fatalf("short hint = %q", h)
	}
	if h := domain.SecretHint("a-very-long-secret-WXYZ"); h != "****WXYZ" {
		t.Fatalf("hint = %q", h)
	}
	raw, err := domain.RedactSecrets([]byte(`{"clientId":"c","clientSecret":{"ciphertext":"enc:v1:abc","hint":"****abcd"},"list":[{"CipherText":"x"}],"n":12345678901234567890}`))
	red := string(raw)
	if err != nil || !strings.Contains(red, "12345678901234567890") {
		t.Fatalf("redacted = %s, %v", red, err)
	}
	if strings.Contains(red, "ciphertext") || !strings.Contains(red, "****abcd") {
		t.Fatalf("redacted = %s", red)
	}
}

func TestKindOf(t *testing.T) {
	wrapped := errors.Join(errors.New("ctx"), domain.ErrTenantDeleted)
	if domain.KindOf(wrapped) != domain.KindRefused || domain.KindOf(errors.New("x")) != domain.KindInternal {
		t.Fatal("KindOf")
	}
}
