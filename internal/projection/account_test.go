package projection_test

import (
	"reflect"
	"testing"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/projection"
)

func TestFoldAccount(t *testing.T) {
	t.Parallel()
	authorized := ev(1, tN(0), &eventsv1.AccountAuthorized{
		Did: alice, Method: eventsv1.AuthMethod_AUTH_METHOD_APP_PASSWORD, PdsHost: "https://pds.example.com",
	})
	revoked := ev(4, tN(5), &eventsv1.AccountRevoked{Did: alice, Reason: "refresh token rejected"})
	reauthorized := ev(9, tN(9), &eventsv1.AccountAuthorized{
		Did: alice, Method: eventsv1.AuthMethod_AUTH_METHOD_OAUTH, PdsHost: "https://pds2.example.com",
	})
	active := projection.Account{
		DID: alice, Authorized: true, Method: eventsv1.AuthMethod_AUTH_METHOD_APP_PASSWORD,
		PDSHost: "https://pds.example.com", AuthorizedAt: tN(0), Version: 1,
	}
	tests := []struct {
		name    string
		history []events.Event
		want    projection.Account
	}{
		{"authorized", []events.Event{authorized}, active},
		{"revoked keeps where it was authorized", []events.Event{authorized, revoked}, projection.Account{
			DID: alice, Method: eventsv1.AuthMethod_AUTH_METHOD_APP_PASSWORD, PDSHost: "https://pds.example.com",
			AuthorizedAt: tN(0), RevokedReason: "refresh token rejected", Version: 4,
		}},
		{"authorized again forgets the revocation", []events.Event{authorized, revoked, reauthorized}, projection.Account{
			DID: alice, Authorized: true, Method: eventsv1.AuthMethod_AUTH_METHOD_OAUTH,
			PDSHost: "https://pds2.example.com", AuthorizedAt: tN(9), Version: 9,
		}},
		{"revoked without authorization", []events.Event{revoked}, projection.Account{
			DID: alice, RevokedReason: "refresh token rejected", Version: 4,
		}},
		{"draft events leave an account alone", []events.Event{authorized, ev(2, tN(1), created(alice, "p", 1, nil))}, active},
		{"an unreadable event leaves an account alone", []events.Event{authorized, {Seq: 2}}, active},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got projection.Account
			for _, e := range tc.history {
				got = projection.FoldAccount(got, e)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("FoldAccount:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
