package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/latency-fabric/alf/internal/auth"
	"github.com/latency-fabric/alf/internal/blob"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/node"
	"github.com/latency-fabric/alf/internal/pdstest"
	"github.com/latency-fabric/alf/internal/record"
)

// xrpcCall sends one request to alf as the user, with a service-auth token
// for lxm, and decodes the JSON answer.
func (u *user) xrpcCall(t *testing.T, n *node.Node, method, path, lxm, contentType string, body []byte, header map[string]string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+n.Addr()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := u.token(context.Background(), lxm)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	if resp.StatusCode != 200 {
		t.Logf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// An unchanged XRPC client against alf: an image uploaded to /blob, a post
// embedding it scheduled with x-scheduled-at, a profile put, a delete, and
// publishPost of a scheduled draft. Everything lands on the real PDS once.
func TestXRPCClientEndToEnd(t *testing.T) {
	t.Parallel()
	h := pdstest.Load(t)
	n := startNode(t, connectNATS(t, natsServer(t)), auth.NewDirectory(h.PLCURL, nil), node.All, nil)
	u := signIn(t, h, 3)
	_, accounts := u.clients(n)
	connectAccount(t, u, accounts)
	did := u.acct.DID

	image := []byte(fmt.Sprintf("\x89PNG fake image bytes %d", time.Now().UnixNano()))
	status, up := u.xrpcCall(t, n, "POST", "/blob", "com.atproto.repo.uploadBlob", "image/png", image, nil)
	if status != 200 {
		t.Fatalf("/blob: %d", status)
	}
	cid := up["cid"].(string)
	marker := fmt.Sprintf("alf xrpc %d", time.Now().UnixNano())
	post := map[string]any{"repo": did, "collection": "app.bsky.feed.post", "record": map[string]any{
		"$type": "app.bsky.feed.post", "text": marker, "createdAt": "2000-01-01T00:00:00.000Z",
		"embed": map[string]any{"$type": "app.bsky.embed.images", "images": []any{map[string]any{
			"alt": "a test image", "image": map[string]any{"$type": "blob", "ref": map[string]any{"$link": cid}, "mimeType": "image/png", "size": len(image)},
		}}},
	}}
	body, _ := json.Marshal(post)
	due := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339Nano)
	status, created := u.xrpcCall(t, n, "POST", "/xrpc/com.atproto.repo.createRecord", "com.atproto.repo.createRecord", "application/json", body, map[string]string{"x-scheduled-at": due})
	if status != 200 {
		t.Fatalf("createRecord: %d", status)
	}
	uri := created["uri"].(string)

	profile := fmt.Sprintf(`{"repo":%q,"collection":"app.bsky.actor.profile","rkey":"self","record":{"$type":"app.bsky.actor.profile","displayName":%q}}`, did, marker)
	if status, _ := u.xrpcCall(t, n, "POST", "/xrpc/com.atproto.repo.putRecord", "com.atproto.repo.putRecord", "application/json", []byte(profile), map[string]string{"x-scheduled-at": due}); status != 200 {
		t.Fatalf("putRecord: %d", status)
	}

	getPost := func(uri string) map[string]any {
		_, v := u.xrpcCall(t, n, "GET", "/xrpc/town.roundabout.scheduledPosts.getPost?uri="+uri, "town.roundabout.scheduledPosts.getPost", "", nil, nil)
		return v
	}
	eventually(t, 20*time.Second, "the post to be published", func() bool { return getPost(uri)["status"] == "published" })
	rkey := uri[len(uri)-13:]
	rec := getRecord(t, u.client, "app.bsky.feed.post", rkey)
	if rec.Value["text"] != marker {
		t.Fatalf("post on the PDS: %v", rec.Value)
	}
	resp, err := http.Get(h.PDSURL + "/xrpc/com.atproto.sync.getBlob?did=" + did + "&cid=" + cid)
	if err != nil {
		t.Fatal(err)
	}
	blobBack, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(blobBack, image) {
		t.Fatalf("getBlob %s: %d, %d bytes, want %d", cid, resp.StatusCode, len(blobBack), len(image))
	}
	obj, err := n.Store().JetStream().ObjectStore(context.Background(), events.ObjectBlobs)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := blob.NewStore(obj).Get(context.Background(), did, cid); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("alf still holds the published image: %v", err)
	}
	eventually(t, 20*time.Second, "the profile to be put", func() bool {
		return getRecord(t, u.client, "app.bsky.actor.profile", "self").Value["displayName"] == marker
	})

	// publishPost of a draft scheduled later publishes it now, once.
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	del := fmt.Sprintf(`{"repo":%q,"collection":"app.bsky.feed.post","rkey":%q}`, did, rkey)
	status, _ = u.xrpcCall(t, n, "POST", "/xrpc/com.atproto.repo.deleteRecord", "com.atproto.repo.deleteRecord", "application/json", []byte(del), map[string]string{"x-scheduled-at": later})
	if status != 200 {
		t.Fatalf("deleteRecord: %d", status)
	}
	status, pub := u.xrpcCall(t, n, "POST", "/xrpc/town.roundabout.scheduledPosts.publishPost", "town.roundabout.scheduledPosts.publishPost", "application/json", []byte(fmt.Sprintf(`{"uri":%q}`, uri)), nil)
	if status != 200 || pub["status"] != "published" || pub["action"] != "delete" {
		t.Fatalf("publishPost of the delete: %d %v", status, pub)
	}
	if got := countPosts(t, u.client, marker); got != 0 {
		t.Fatalf("%d posts after the delete, want 0", got)
	}
}

// A three-post thread sent with applyWrites is kept as one draft and
// published in one commit, each reply pointing at the posts as written
// (their createdAt, and so their CIDs, are the write time's).
func TestApplyWritesThreadEndToEnd(t *testing.T) {
	t.Parallel()
	h := pdstest.Load(t)
	n := startNode(t, connectNATS(t, natsServer(t)), auth.NewDirectory(h.PLCURL, nil), node.All, nil)
	u := signIn(t, h, 0)
	_, accounts := u.clients(n)
	connectAccount(t, u, accounts)
	did := u.acct.DID

	marker := fmt.Sprintf("alf thread %d", time.Now().UnixNano())
	base := time.Now().UnixMicro()
	rkeys := []string{syntax.NewTID(base, 1).String(), syntax.NewTID(base+1, 1).String(), syntax.NewTID(base+2, 1).String()}
	uris := make([]string, 3)
	cids := make([]string, 3)
	var writes []any
	for i := range 3 {
		uris[i] = "at://" + did + "/app.bsky.feed.post/" + rkeys[i]
		rec := map[string]any{"$type": "app.bsky.feed.post", "text": fmt.Sprintf("%s #%d", marker, i+1), "createdAt": "2000-01-01T00:00:00.000Z"}
		if i > 0 {
			rec["reply"] = map[string]any{
				"root":   map[string]any{"uri": uris[0], "cid": cids[0]},
				"parent": map[string]any{"uri": uris[i-1], "cid": cids[i-1]},
			}
		}
		b, _ := json.Marshal(rec)
		cid, err := record.CID(b)
		if err != nil {
			t.Fatal(err)
		}
		cids[i] = cid
		writes = append(writes, map[string]any{"$type": "com.atproto.repo.applyWrites#create", "collection": "app.bsky.feed.post", "rkey": rkeys[i], "value": json.RawMessage(b)})
	}
	body, _ := json.Marshal(map[string]any{"repo": did, "writes": writes})
	due := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339Nano)
	status, out := u.xrpcCall(t, n, "POST", "/xrpc/com.atproto.repo.applyWrites", "com.atproto.repo.applyWrites", "application/json", body, map[string]string{"x-scheduled-at": due})
	if status != 200 || len(out["results"].([]any)) != 3 {
		t.Fatalf("applyWrites: %d %v", status, out)
	}
	eventually(t, 20*time.Second, "the thread to be published", func() bool {
		_, v := u.xrpcCall(t, n, "GET", "/xrpc/town.roundabout.scheduledPosts.getPost?uri="+uris[0], "town.roundabout.scheduledPosts.getPost", "", nil, nil)
		return v["status"] == "published"
	})
	got := make([]pdsRecord, 3)
	for i := range 3 {
		got[i] = getRecord(t, u.client, "app.bsky.feed.post", rkeys[i])
		if got[i].Value["createdAt"] == "2000-01-01T00:00:00.000Z" {
			t.Fatalf("post %d kept the client's createdAt", i+1)
		}
	}
	ref := func(i int, which string) map[string]any {
		return got[i].Value["reply"].(map[string]any)[which].(map[string]any)
	}
	for i := 1; i < 3; i++ {
		if r := ref(i, "root"); r["uri"] != uris[0] || r["cid"] != got[0].CID {
			t.Errorf("post %d root = %v, want %s %s", i+1, r, uris[0], got[0].CID)
		}
		if r := ref(i, "parent"); r["uri"] != uris[i-1] || r["cid"] != got[i-1].CID {
			t.Errorf("post %d parent = %v, want %s %s", i+1, r, uris[i-1], got[i-1].CID)
		}
	}
	if got := countPosts(t, u.client, marker+" #2"); got != 1 {
		t.Fatalf("%d copies of the second post, want 1", got)
	}
}
