//go:build ignore

package bar
