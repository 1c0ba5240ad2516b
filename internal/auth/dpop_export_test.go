package auth

// DPoPCacheStats reports, for tests, how many PDS and issuer entries v
// caches and how many metadata loads each cache has started.
func DPoPCacheStats(v *DPoPVerifier) (pdsEntries, pdsLoads, issuerEntries, issuerLoads int) {
	pdsEntries, pdsLoads = v.fetcher.resources.stats()
	issuerEntries, issuerLoads = v.fetcher.issuers.stats()
	return
}
