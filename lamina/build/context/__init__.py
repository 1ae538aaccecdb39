"""The build context: the files a build may COPY, and their content digests.

Terms:
- *context*: a folder read in place (`folder.BuildContext`); a tar a client uploads is
  unpacked into a temporary folder first (`tar`). Paths inside it (*relpaths*) are
  `/`-separated and relative to its root.
- *ignore rules*: `.dockerignore` patterns, matched as Docker's fileutils does
  (`ignore`); an ignored entry is not in the context.
- *selection*: some entries of a context and one checksum over their names, types,
  modes, owners and content (`folder.Selection`), what a COPY key covers.
- *stat cache*: content digests remembered by (size, mtime, ctime, inode, device), so
  an unchanged file is not read again (`statcache`).

Imports nothing of `lamina.build` outside this package.
"""
