package config_test

import (
	"fmt"

	"github.com/latency-fabric/alf/internal/config"
)

func ExampleLoad() {
	env := map[string]string{
		"PORT":           "3005",
		"ENCRYPTION_KEY": "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
		"LOG_LEVEL":      "debug",
	}
	c, err := config.Load(func(k string) string { return env[k] })
	fmt.Println(err)
	fmt.Println(c)

	_, err = config.Load(func(k string) string { return map[string]string{"PORT": "abc", "LOG_LEVEL": "loud"}[k] })
	fmt.Println(err)
	// Output:
	// <nil>
	// port=3005 service_url=http://localhost:3005 service_did=did:web:localhost%3A3005 plc_root=https://plc.directory handle_resolver_url=https://api.bsky.app encryption_key=set encryption_keys_old=0 log_level=DEBUG nats_url=embedded data_dir=./data max_drafts_per_user=0 allowed_collections=[] post_publish_webhook_url=unset post_publish_webhook_secret=unset disable_recurring=false allow_private_content_urls=false allowed_redirect_origins=[] rate_limit_per_ip=1200 rate_limit_per_account=600
	// PORT: "abc" is not a port number (1-65535)
	// LOG_LEVEL: "loud" is not one of trace, debug, info, warn, error, fatal, silent
}
