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
