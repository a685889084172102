"""A plugin that cannot even be imported: the loader must report it and load the others."""

raise ImportError("gh_fake_broken is broken on purpose")
