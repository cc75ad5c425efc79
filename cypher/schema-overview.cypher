// name: schema-overview
// description: How many nodes carry each label and how many relationships each type has (full scan; use on a quiet server).
// portable: false
MATCH (n)
UNWIND labels(n) AS label
RETURN 'node' AS kind, label AS name, count(*) AS count
UNION ALL
MATCH ()-[r]->()
RETURN 'relationship' AS kind, type(r) AS name, count(*) AS count
