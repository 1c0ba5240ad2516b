package auth_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/latency-fabric/alf/internal/auth"
)

func TestServiceDID(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/servicedid.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct{ URL, DID, Err string }
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.URL, func(t *testing.T) {
			t.Parallel()
			got, err := auth.ServiceDID(tc.URL)
			if tc.Err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.Err) {
					t.Fatalf("ServiceDID(%q) = %q, %v; want error about %q", tc.URL, got, err, tc.Err)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("error %q echoes a password", err)
				}
				return
			}
			if err != nil || got != tc.DID {
				t.Fatalf("ServiceDID(%q) = %q, %v; want %q", tc.URL, got, err, tc.DID)
			}
		})
	}
}
