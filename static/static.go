// Package static holds the store's stylesheet and scripts, embedded in the
// binary so that it runs from a single file.
package static

import "embed"

// FS holds every asset, served by web under /store/static/.
//
//go:embed *.css *.js *.svg rapidoc.LICENSE.txt
var FS embed.FS
