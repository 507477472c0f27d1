package jobs

import (
	"context"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/chaptask/chaptask/workflows"
)

// SearchAttributes are the custom search attributes jobs carry, with their
// types. An embedded server creates them with its namespace; on an external
// cluster EnsureSearchAttributes adds them.
var SearchAttributes = map[string]enumspb.IndexedValueType{
	workflows.SearchAttrTaskID:    enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	workflows.SearchAttrTaskType:  enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	workflows.SearchAttrCommand:   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	workflows.SearchAttrParentJob: enumspb.INDEXED_VALUE_TYPE_KEYWORD,
}

// EnsureSearchAttributes adds the SearchAttributes namespace lacks.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range SearchAttributes {
		if _, ok := resp.GetCustomAttributes()[name]; !ok {
			missing[name] = typ
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: missing,
	})
	if err != nil {
		return fmt.Errorf("add search attributes: %w", err)
	}
	return nil
}
