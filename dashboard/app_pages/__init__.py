"""One module per dashboard page, run by ``st.navigation`` (layout only, kept short)."""
