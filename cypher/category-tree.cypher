// name: category-tree
// description: The catalogue taxonomy: each category under its parent, with how many items it holds directly.
// portable: true
MATCH (c:Category)
OPTIONAL MATCH (c)-[:SUBCATEGORY_OF]->(parent:Category)
OPTIONAL MATCH (c)<-[:IN_CATEGORY]-(i:Item)
RETURN coalesce(parent.name, '') AS parent, c.id AS category_id, c.name AS category, count(i) AS items
ORDER BY parent, category
