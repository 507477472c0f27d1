package embedded

import (
	"testing"

	"go.temporal.io/server/common/dynamicconfig"
)

// TestDynamicConfigCachesSearchAttributes guards against turning the forced
// search attribute refresh back on: it costs a main-store read per
// visibility row and made job lists time out under load (see the
// reliability package's TestLoad).
func TestDynamicConfigCachesSearchAttributes(t *testing.T) {
	if v, ok := dynamicConfig()[dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key()]; ok && v != false {
		t.Errorf("ForceSearchAttributesCacheRefreshOnRead = %v, want it off", v)
	}
}

// TestDynamicConfigBoundsHistoryCache guards the mutable-state cache bound:
// finished jobs' states fill the cache, and a larger cache made the live
// heap, and with it the job-list page's tail, grow with the history.
func TestDynamicConfigBoundsHistoryCache(t *testing.T) {
	const most = 2048
	raw := dynamicConfig()[dynamicconfig.HistoryCacheHostLevelMaxSize.Key()]
	if v, ok := raw.(int); !ok || v > most {
		t.Errorf("HistoryCacheHostLevelMaxSize = %v, want at most %d", raw, most)
	}
}
