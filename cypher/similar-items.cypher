// name: similar-items
// description: Items nearest to one item in an embedding space, through its vector index (created when embeddings are written).
// param: item STRING = P00001 -- item id
// param: index STRING = item_text_embedding -- vector index: <label>_<property>, see SHOW VECTOR INDEXES
// param: property STRING = text_embedding -- the embedding property the index covers
// param: k INT64 = 10 -- how many neighbours
// portable: false
MATCH (i:Item {id: $item})
WHERE i[$property] IS NOT NULL
CALL db.index.vector.queryNodes($index, $k + 1, i[$property]) YIELD node, score
WITH i, node, score
WHERE node <> i
RETURN node.id AS item, node.name AS name, round(score, 4) AS similarity
ORDER BY similarity DESC, item
LIMIT $k
