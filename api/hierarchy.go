package api

// ArtifactHierarchy names the levels of the artifact tree, as chapkit's
// ArtifactHierarchy does: $tree and $expand show each artifact's level_label
// from it. A level without a label shows null.
type ArtifactHierarchy struct {
	// Name names the hierarchy, for people reading the configuration.
	Name string
	// LevelLabels maps a level to its label.
	LevelLabels map[int]string
}

// DefaultArtifactHierarchy is the hierarchy of a service that configures
// none: a job's execution artifact at level 0, what its function and its
// child jobs store under it at level 1, and their children at level 2.
func DefaultArtifactHierarchy() ArtifactHierarchy {
	return ArtifactHierarchy{
		Name: "chaptask",
		LevelLabels: map[int]string{
			0: "execution",
			1: "child",
			2: "grandchild",
		},
	}
}

// label returns the label of level, or nil.
func (h ArtifactHierarchy) label(level int) *string {
	if l, ok := h.LevelLabels[level]; ok {
		return &l
	}
	return nil
}
