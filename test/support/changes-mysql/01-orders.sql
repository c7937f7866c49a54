-- Writes during a backup of the MySQL seed (sandbox `changes`): inserts firing the trigger, updates, a delete.
USE shop;
INSERT INTO shop.orders (customer_id, placed_at, note)
  WITH RECURSIVE s (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 50) SELECT 1 + n % 2000, '2026-06-01 00:00:00', CONCAT('change ', n) FROM s;
UPDATE shop.customers SET balance = balance + 1 WHERE id <= 20;
DELETE FROM shop.order_tags WHERE order_id = (SELECT MIN(order_id) FROM (SELECT order_id FROM shop.order_tags) AS t);
