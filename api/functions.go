package api

import (
	"net/http"

	"github.com/chaptask/chaptask/registry"
)

func handleFunctionList(reg *registry.Registry) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		functions := []registry.Function{}
		if reg != nil {
			functions = reg.Functions()
		}
		encode(w, http.StatusOK, functions)
	})
}
