-- Each accepted body is stored once: the current version lives only in shopping_infos
-- (shipping_infos), and the *_versions tables keep the versions it replaced. Drop the
-- copies of current versions that earlier schema versions kept in the history tables.
DELETE FROM shopping_info_versions
WHERE EXISTS (SELECT 1 FROM shopping_infos s
              WHERE s.appid = shopping_info_versions.appid
                AND s.key_type = shopping_info_versions.key_type
                AND s.key_a = shopping_info_versions.key_a
                AND s.key_b = shopping_info_versions.key_b
                AND s.version = shopping_info_versions.version);
DELETE FROM shipping_info_versions
WHERE EXISTS (SELECT 1 FROM shipping_infos s
              WHERE s.appid = shipping_info_versions.appid
                AND s.key_type = shipping_info_versions.key_type
                AND s.key_a = shipping_info_versions.key_a
                AND s.key_b = shipping_info_versions.key_b
                AND s.version = shipping_info_versions.version);
