package client

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"tenant-service/client/tenantcache"
)

func TestDecodeMessage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		d       amqp.Delivery
		want    tenantcache.Change
		wantErr bool
	}{
		{"headers win over the body",
			amqp.Delivery{Headers: amqp.Table{"tenant_id": "t", "stream_version": "3", "global_position": "10"},
				Body: []byte(`{"tenantId":"x","version":1,"position":1,"data":{"phoneNumberId":"555"}}`)},
			tenantcache.Change{TenantID: "t", Version: 3, Position: 10,
				Keys: []tenantcache.Key{{Kind: tenantcache.KindPhoneNumber, ID: "555"}}}, false},
		{"integer headers",
			amqp.Delivery{Headers: amqp.Table{"tenant_id": "t", "stream_version": int32(4), "global_position": int64(11)},
				Body: []byte(`{"data":{"integrationId":"i-1"}}`)},
			tenantcache.Change{TenantID: "t", Version: 4, Position: 11,
				Keys: []tenantcache.Key{{Kind: tenantcache.KindIntegration, ID: "i-1"}}}, false},
		{"headers alone",
			amqp.Delivery{Headers: amqp.Table{"tenant_id": "t", "stream_version": "5", "global_position": "12"}, Body: []byte("not json")},
			tenantcache.Change{TenantID: "t", Version: 5, Position: 12}, false},
		{"no tenant anywhere", amqp.Delivery{Body: []byte(`{"type":"TenantUpdated"}`)}, tenantcache.Change{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, err := decodeMessage(tc.d)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v", err)
			}
			if tc.wantErr {
				return
			}
			got := env.change()
			if got.TenantID != tc.want.TenantID || got.Version != tc.want.Version || got.Position != tc.want.Position ||
				len(got.Keys) != len(tc.want.Keys) || (len(got.Keys) > 0 && got.Keys[0] != tc.want.Keys[0]) {
				t.Fatalf("change = %+v, want %+v", got, tc.want)
			}
		})
	}
}
