//! Arrow schemas of stored tables, derived from the kind registry, and the Parquet settings
//! every stored file is written with.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use model::{FieldType, Kind, Storage, Zone};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

/// Every stored row carries its row id: the source's sequence number in the high 32 bits and
/// the row's line (CSV, JSON Lines) or row number (Parquet) in the source in the low 32 bits.
/// Evidence can name the file and line a fact came from; vault rows point back by it.
pub const RID_COLUMN: &str = "_rid";

/// The vault's columns: row id, pseudonym, the file's salt, the sealed fields.
pub const VAULT_SCHEMA_FIELDS: [&str; 4] = [RID_COLUMN, "person_id", "salt", "sealed"];

fn data_type(ty: FieldType, storage: Storage, zone: Zone) -> DataType {
    if storage == Storage::Pseudonym {
        return DataType::Int64;
    }
    match ty {
        FieldType::PersonId => DataType::Int64,
        FieldType::RegionList => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        FieldType::Timestamp => {
            DataType::Timestamp(TimeUnit::Millisecond, Some(zone.to_string().into()))
        }
        FieldType::Date => DataType::Date32,
        FieldType::Float { .. } => DataType::Float64,
        FieldType::Int { .. } => DataType::Int64,
        FieldType::Bool => DataType::Boolean,
        FieldType::EnterpriseId
        | FieldType::Region
        | FieldType::Text
        | FieldType::Token
        | FieldType::Car
        | FieldType::Phone
        | FieldType::Sex
        | FieldType::Enum(_) => DataType::Utf8,
    }
}

/// The stored schema of `kind`: its non-vault columns in contract order (person ids as Int64
/// pseudonyms, times as instants shown in `zone`), then [`RID_COLUMN`].
pub fn arrow_schema(kind: Kind, zone: Zone) -> SchemaRef {
    let mut fields: Vec<Field> = kind
        .spec()
        .columns
        .iter()
        .filter(|c| c.storage != Storage::Vault)
        .map(|c| Field::new(c.name, data_type(c.ty, c.storage, zone), !c.required))
        .collect();
    fields.push(Field::new(RID_COLUMN, DataType::Int64, false));
    Arc::new(Schema::new(fields))
}

/// The vault schema shared by every kind.
pub fn vault_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(RID_COLUMN, DataType::Int64, false),
        Field::new("person_id", DataType::Int64, false),
        Field::new(
            "salt",
            DataType::FixedSizeBinary(vault::SALT_LEN as i32),
            false,
        ),
        Field::new("sealed", DataType::Binary, false),
    ]))
}

/// zstd level 1 (fast, compact); dictionaries for the repetitive text columns only, since
/// pseudonyms, row ids and instants are near-unique and a dictionary would only be abandoned;
/// no min/max statistics for free text (station names, symptoms), which no query prunes by.
pub fn parquet_properties(kind: Option<Kind>, schema: &Schema) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("valid level"),
        ))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(1 << 20))
        .set_created_by("fangyi".to_string());
    for f in schema.fields() {
        if matches!(
            f.data_type(),
            DataType::Int64 | DataType::Timestamp(..) | DataType::Binary | DataType::Float64
        ) {
            b = b.set_column_dictionary_enabled(ColumnPath::from(f.name().as_str()), false);
        }
    }
    if let Some(kind) = kind {
        for c in kind
            .spec()
            .columns
            .iter()
            .filter(|c| c.ty == FieldType::Text)
        {
            b = b.set_column_statistics_enabled(ColumnPath::from(c.name), EnabledStatistics::None);
        }
    }
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_hide_personal_fields_and_pseudonymise_ids() {
        let s = arrow_schema(Kind::Persons, Zone::CST);
        let names: Vec<_> = s.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            [
                "person_id",
                "birth_date",
                "sex",
                "home_region",
                "community_id",
                "household_id",
                "_rid"
            ]
        );
        assert_eq!(s.field(0).data_type(), &DataType::Int64);
        assert!(!s.field(0).is_nullable());

        let t = arrow_schema(Kind::Travel, Zone::CST);
        let depart = t.field_with_name("depart_time").unwrap();
        assert_eq!(
            depart.data_type(),
            &DataType::Timestamp(TimeUnit::Millisecond, Some("+08:00".into()))
        );
        assert_eq!(
            t.field_with_name("service_date").unwrap().data_type(),
            &DataType::Date32
        );
        assert!(t.field_with_name("car").unwrap().is_nullable());

        let c = arrow_schema(Kind::Checkpoint, Zone::CST);
        assert!(
            c.field_with_name("plate").is_err(),
            "plates live in the vault"
        );
        let r = arrow_schema(Kind::SelfReports, Zone::CST);
        assert!(matches!(
            r.field_with_name("visited_regions").unwrap().data_type(),
            DataType::List(_)
        ));
        assert!(r.field_with_name("note").is_err());
    }
}
