package record_test

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"github.com/latency-fabric/alf/internal/record"
)

type cidVectors struct {
	Records []struct {
		Name   string          `json:"name"`
		JSON   json.RawMessage `json:"json"`
		CID    string          `json:"cid"`
		NotCID string          `json:"notCid"`
	} `json:"records"`
	Blobs []struct {
		Hex string `json:"hex"`
		CID string `json:"cid"`
	} `json:"blobs"`
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestCIDReferenceVectors(t *testing.T) {
	t.Parallel()
	var v cidVectors
	readJSON(t, "testdata/cids.json", &v)
	for _, r := range v.Records {
		t.Run(r.Name, func(t *testing.T) {
			t.Parallel()
			got, err := record.CID(r.JSON)
			if err != nil {
				t.Fatalf("CID: %v", err)
			}
			if got != r.CID {
				t.Errorf("CID = %s, want %s", got, r.CID)
			}
			if r.NotCID != "" && got == r.NotCID {
				t.Errorf("CID = %s: $link was hashed as a plain object", got)
			}
			if err := record.Validate(r.JSON); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestBlobCIDReferenceVectors(t *testing.T) {
	t.Parallel()
	var v cidVectors
	readJSON(t, "testdata/cids.json", &v)
	for _, b := range v.Blobs {
		data, err := hex.DecodeString(b.Hex)
		if err != nil {
			t.Fatal(err)
		}
		if got := record.BlobCID(data); got != b.CID {
			t.Errorf("BlobCID(%s) = %s, want %s", b.Hex, got, b.CID)
		}
	}
}

// cborCID hashes hand-written DAG-CBOR, an encoding independent of the
// package under test.
func cborCID(t *testing.T, cborHex string) string {
	t.Helper()
	b, err := hex.DecodeString(cborHex)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cid.NewPrefixV1(cid.DagCBOR, multihash.SHA2_256).Sum(b)
	if err != nil {
		t.Fatal(err)
	}
	return c.String()
}

func TestCIDDataModel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, json string
		cbor       string // hex DAG-CBOR
	}{
		// map(1) "n" uint64 2^53+1: a float64 would have rounded it to 2^53.
		{"2^53+1 stays exact", `{"n":9007199254740993}`, "a1616e1b0020000000000001"},
		{"2^53", `{"n":9007199254740992}`, "a1616e1b0020000000000000"},
		{"negative", `{"n":-2}`, "a1616e21"},
		{"$bytes become a byte string", `{"b":{"$bytes":"AQID"}}`, "a1616243010203"},
		// keys sorted by length, then bytes: "b" < "aa".
		{"canonical key order", `{"aa":true,"b":null}`, "a26162f6626161f5"},
		{"whitespace ignored", "{ \"b\" : null ,\n \"aa\" : true }", "a26162f6626161f5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := record.CID([]byte(tc.json))
			if err != nil {
				t.Fatalf("CID: %v", err)
			}
			if want := cborCID(t, tc.cbor); got != want {
				t.Errorf("CID = %s, want %s", got, want)
			}
		})
	}
}

func TestCIDLegacyBlobAccepted(t *testing.T) {
	t.Parallel()
	in := `{"image":{"cid":"bafkreihhictpv4w3mx2ykmki25ozum25prfzjkyqn7s7en54gt647r2fqq","mimeType":"image/png"}}`
	if _, err := record.CID([]byte(in)); err != nil {
		t.Fatalf("CID: %v", err)
	}
}

func TestInvalidRecords(t *testing.T) {
	t.Parallel()
	var cases []struct {
		Name string `json:"name"`
		JSON string `json:"json"`
	}
	readJSON(t, "testdata/invalid.json", &cases)
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			c, err := record.CID([]byte(tc.JSON))
			if !errors.Is(err, record.ErrInvalid) {
				t.Errorf("CID = %q, %v; want ErrInvalid", c, err)
			}
			if err := record.Validate([]byte(tc.JSON)); !errors.Is(err, record.ErrInvalid) {
				t.Errorf("Validate = %v; want ErrInvalid", err)
			}
		})
	}
}

func ExampleCID() {
	c, err := record.CID([]byte(`{"text":"x"}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(c)
	_, err = record.CID([]byte(`{"text":"x","n":0.5}`))
	fmt.Println(errors.Is(err, record.ErrInvalid))
	// Output:
	// bafyreiaui4h52mq5spqojtteycgq4rcih2eo6x4ufdtc6iw37cgaipa2oi
	// true
}

func ExampleBlobCID() {
	fmt.Println(record.BlobCID([]byte{1, 2, 3}))
	// Output: bafkreiadsbmmn4waznesyuz3bjgrj33xzqhxrk6mz3ksq7meugrachh3qe
}
