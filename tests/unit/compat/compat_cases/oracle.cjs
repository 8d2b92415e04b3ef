// Independent oracle for tests/test_compat.py: json-schema-diff (draft-07 only) on many schema pairs
// in one process. Usage: node oracle.cjs <tests/node dir> < [{id, old, new}, ...]
// Prints {id: {additions, removals} | {error}}: "removals" means the new schema accepts less
// (breaks backward), "additions" that it accepts more (breaks forward).
"use strict";
const path = require("path");
const { diffSchemas } = require(path.join(process.argv[2], "node_modules", "json-schema-diff"));

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", async () => {
  const out = {};
  for (const pair of JSON.parse(input)) {
    try {
      const result = await diffSchemas({ sourceSchema: pair.old, destinationSchema: pair.new });
      out[pair.id] = { additions: result.additionsFound, removals: result.removalsFound };
    } catch (error) {
      out[pair.id] = { error: String(error) };
    }
  }
  process.stdout.write(JSON.stringify(out));
});
