// Generated from contracts/ConsentRegistry.sol by scripts/compileContracts.ts (solc 0.8.28+commit.7893614a.Emscripten.clang, optimizer 200 runs, evm cancun); do not edit; npm run contracts:build
export const consentRegistryAbi = [
  {
    "inputs": [],
    "stateMutability": "nonpayable",
    "type": "constructor"
  },
  {
    "inputs": [
      {
        "internalType": "bytes32",
        "name": "grantId",
        "type": "bytes32"
      }
    ],
    "name": "ConsentAlreadyRevoked",
    "type": "error"
  },
  {
    "inputs": [],
    "name": "ConsentEmptyGrant",
    "type": "error"
  },
  {
    "inputs": [
      {
        "internalType": "uint64",
        "name": "notAfter",
        "type": "uint64"
      },
      {
        "internalType": "uint64",
        "name": "nowTs",
        "type": "uint64"
      }
    ],
    "name": "ConsentExpired",
    "type": "error"
  },
  {
    "inputs": [
      {
        "internalType": "uint8",
        "name": "granteeKind",
        "type": "uint8"
      }
    ],
    "name": "ConsentInvalidGranteeKind",
    "type": "error"
  },
  {
    "inputs": [
      {
        "internalType": "address",
        "name": "patient",
        "type": "address"
      },
      {
        "internalType": "uint256",
        "name": "expected",
        "type": "uint256"
      },
      {
        "internalType": "uint256",
        "name": "provided",
        "type": "uint256"
      }
    ],
    "name": "ConsentInvalidNonce",
    "type": "error"
  },
  {
    "inputs": [],
    "name": "ConsentInvalidRole",
    "type": "error"
  },
  {
    "inputs": [
      {
        "internalType": "address",
        "name": "patient",
        "type": "address"
      }
    ],
    "name": "ConsentInvalidSignature",
    "type": "error"
  },
  {
    "inputs": [
      {
        "internalType": "uint64",
        "name": "notBefore",
        "type": "uint64"
      },
      {
        "internalType": "uint64",
        "name": "notAfter",
        "type": "uint64"
      }
    ],
    "name": "ConsentInvalidWindow",
    "type": "error"
  },
  {
    "inputs": [
      {
        "internalType": "bytes32",
        "name": "grantId",
        "type": "bytes32"
      }
    ],
    "name": "ConsentUnknownGrant",
    "type": "error"
  },
  {
    "inputs": [],
    "name": "InvalidShortString",
    "type": "error"
  },
  {
    "inputs": [
      {
        "internalType": "string",
        "name": "str",
        "type": "string"
      }
    ],
    "name": "StringTooLong",
    "type": "error"
  },
  {
    "anonymous": false,
    "inputs": [
      {
        "indexed": true,
        "internalType": "bytes32",
        "name": "grantId",
        "type": "bytes32"
      },
      {
        "indexed": true,
        "internalType": "address",
        "name": "patient",
        "type": "address"
      },
      {
        "indexed": false,
        "internalType": "uint8",
        "name": "granteeKind",
        "type": "uint8"
      },
      {
        "indexed": true,
        "internalType": "bytes32",
        "name": "grantee",
        "type": "bytes32"
      },
      {
        "indexed": false,
        "internalType": "bytes32",
        "name": "role",
        "type": "bytes32"
      },
      {
        "indexed": false,
        "internalType": "uint32",
        "name": "categories",
        "type": "uint32"
      },
      {
        "indexed": false,
        "internalType": "uint32",
        "name": "purposes",
        "type": "uint32"
      },
      {
        "indexed": false,
        "internalType": "uint8",
        "name": "actions",
        "type": "uint8"
      },
      {
        "indexed": false,
        "internalType": "uint64",
        "name": "notBefore",
        "type": "uint64"
      },
      {
        "indexed": false,
        "internalType": "uint64",
        "name": "notAfter",
        "type": "uint64"
      },
      {
        "indexed": false,
        "internalType": "uint256",
        "name": "nonce",
        "type": "uint256"
      }
    ],
    "name": "ConsentGranted",
    "type": "event"
  },
  {
    "anonymous": false,
    "inputs": [
      {
        "indexed": true,
        "internalType": "bytes32",
        "name": "grantId",
        "type": "bytes32"
      },
      {
        "indexed": true,
        "internalType": "address",
        "name": "patient",
        "type": "address"
      },
      {
        "indexed": false,
        "internalType": "uint64",
        "name": "revokedAt",
        "type": "uint64"
      }
    ],
    "name": "ConsentRevoked",
    "type": "event"
  },
  {
    "anonymous": false,
    "inputs": [],
    "name": "EIP712DomainChanged",
    "type": "event"
  },
  {
    "inputs": [],
    "name": "DOMAIN_SEPARATOR",
    "outputs": [
      {
        "internalType": "bytes32",
        "name": "",
        "type": "bytes32"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [],
    "name": "GRANTEE_ORGANIZATION",
    "outputs": [
      {
        "internalType": "uint8",
        "name": "",
        "type": "uint8"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [],
    "name": "GRANTEE_PRACTITIONER",
    "outputs": [
      {
        "internalType": "uint8",
        "name": "",
        "type": "uint8"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [],
    "name": "GRANTEE_ROLE",
    "outputs": [
      {
        "internalType": "uint8",
        "name": "",
        "type": "uint8"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [],
    "name": "GRANT_TYPEHASH",
    "outputs": [
      {
        "internalType": "bytes32",
        "name": "",
        "type": "bytes32"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [],
    "name": "REVOKE_TYPEHASH",
    "outputs": [
      {
        "internalType": "bytes32",
        "name": "",
        "type": "bytes32"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [],
    "name": "eip712Domain",
    "outputs": [
      {
        "internalType": "bytes1",
        "name": "fields",
        "type": "bytes1"
      },
      {
        "internalType": "string",
        "name": "name",
        "type": "string"
      },
      {
        "internalType": "string",
        "name": "version",
        "type": "string"
      },
      {
        "internalType": "uint256",
        "name": "chainId",
        "type": "uint256"
      },
      {
        "internalType": "address",
        "name": "verifyingContract",
        "type": "address"
      },
      {
        "internalType": "bytes32",
        "name": "salt",
        "type": "bytes32"
      },
      {
        "internalType": "uint256[]",
        "name": "extensions",
        "type": "uint256[]"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "bytes32",
        "name": "grantId",
        "type": "bytes32"
      }
    ],
    "name": "getGrant",
    "outputs": [
      {
        "components": [
          {
            "components": [
              {
                "internalType": "address",
                "name": "patient",
                "type": "address"
              },
              {
                "internalType": "uint8",
                "name": "granteeKind",
                "type": "uint8"
              },
              {
                "internalType": "bytes32",
                "name": "grantee",
                "type": "bytes32"
              },
              {
                "internalType": "bytes32",
                "name": "role",
                "type": "bytes32"
              },
              {
                "internalType": "uint32",
                "name": "categories",
                "type": "uint32"
              },
              {
                "internalType": "uint32",
                "name": "purposes",
                "type": "uint32"
              },
              {
                "internalType": "uint8",
                "name": "actions",
                "type": "uint8"
              },
              {
                "internalType": "uint64",
                "name": "notBefore",
                "type": "uint64"
              },
              {
                "internalType": "uint64",
                "name": "notAfter",
                "type": "uint64"
              },
              {
                "internalType": "uint256",
                "name": "nonce",
                "type": "uint256"
              }
            ],
            "internalType": "struct ConsentRegistry.Grant",
            "name": "grant",
            "type": "tuple"
          },
          {
            "internalType": "bool",
            "name": "revoked",
            "type": "bool"
          },
          {
            "internalType": "uint64",
            "name": "grantedAt",
            "type": "uint64"
          },
          {
            "internalType": "uint64",
            "name": "revokedAt",
            "type": "uint64"
          }
        ],
        "internalType": "struct ConsentRegistry.GrantRecord",
        "name": "",
        "type": "tuple"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [
      {
        "components": [
          {
            "internalType": "address",
            "name": "patient",
            "type": "address"
          },
          {
            "internalType": "uint8",
            "name": "granteeKind",
            "type": "uint8"
          },
          {
            "internalType": "bytes32",
            "name": "grantee",
            "type": "bytes32"
          },
          {
            "internalType": "bytes32",
            "name": "role",
            "type": "bytes32"
          },
          {
            "internalType": "uint32",
            "name": "categories",
            "type": "uint32"
          },
          {
            "internalType": "uint32",
            "name": "purposes",
            "type": "uint32"
          },
          {
            "internalType": "uint8",
            "name": "actions",
            "type": "uint8"
          },
          {
            "internalType": "uint64",
            "name": "notBefore",
            "type": "uint64"
          },
          {
            "internalType": "uint64",
            "name": "notAfter",
            "type": "uint64"
          },
          {
            "internalType": "uint256",
            "name": "nonce",
            "type": "uint256"
          }
        ],
        "internalType": "struct ConsentRegistry.Grant",
        "name": "g",
        "type": "tuple"
      },
      {
        "internalType": "bytes",
        "name": "signature",
        "type": "bytes"
      }
    ],
    "name": "grant",
    "outputs": [
      {
        "internalType": "bytes32",
        "name": "grantId",
        "type": "bytes32"
      }
    ],
    "stateMutability": "nonpayable",
    "type": "function"
  },
  {
    "inputs": [
      {
        "components": [
          {
            "internalType": "address",
            "name": "patient",
            "type": "address"
          },
          {
            "internalType": "uint8",
            "name": "granteeKind",
            "type": "uint8"
          },
          {
            "internalType": "bytes32",
            "name": "grantee",
            "type": "bytes32"
          },
          {
            "internalType": "bytes32",
            "name": "role",
            "type": "bytes32"
          },
          {
            "internalType": "uint32",
            "name": "categories",
            "type": "uint32"
          },
          {
            "internalType": "uint32",
            "name": "purposes",
            "type": "uint32"
          },
          {
            "internalType": "uint8",
            "name": "actions",
            "type": "uint8"
          },
          {
            "internalType": "uint64",
            "name": "notBefore",
            "type": "uint64"
          },
          {
            "internalType": "uint64",
            "name": "notAfter",
            "type": "uint64"
          },
          {
            "internalType": "uint256",
            "name": "nonce",
            "type": "uint256"
          }
        ],
        "internalType": "struct ConsentRegistry.Grant",
        "name": "g",
        "type": "tuple"
      }
    ],
    "name": "grantDigest",
    "outputs": [
      {
        "internalType": "bytes32",
        "name": "",
        "type": "bytes32"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [
      {
        "components": [
          {
            "internalType": "address",
            "name": "patient",
            "type": "address"
          },
          {
            "internalType": "uint8",
            "name": "granteeKind",
            "type": "uint8"
          },
          {
            "internalType": "bytes32",
            "name": "grantee",
            "type": "bytes32"
          },
          {
            "internalType": "bytes32",
            "name": "role",
            "type": "bytes32"
          },
          {
            "internalType": "uint32",
            "name": "categories",
            "type": "uint32"
          },
          {
            "internalType": "uint32",
            "name": "purposes",
            "type": "uint32"
          },
          {
            "internalType": "uint8",
            "name": "actions",
            "type": "uint8"
          },
          {
            "internalType": "uint64",
            "name": "notBefore",
            "type": "uint64"
          },
          {
            "internalType": "uint64",
            "name": "notAfter",
            "type": "uint64"
          },
          {
            "internalType": "uint256",
            "name": "nonce",
            "type": "uint256"
          }
        ],
        "internalType": "struct ConsentRegistry.Grant",
        "name": "g",
        "type": "tuple"
      }
    ],
    "name": "hashGrant",
    "outputs": [
      {
        "internalType": "bytes32",
        "name": "",
        "type": "bytes32"
      }
    ],
    "stateMutability": "pure",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "address",
        "name": "patient",
        "type": "address"
      }
    ],
    "name": "nonces",
    "outputs": [
      {
        "internalType": "uint256",
        "name": "",
        "type": "uint256"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [
      {
        "components": [
          {
            "internalType": "address",
            "name": "patient",
            "type": "address"
          },
          {
            "internalType": "bytes32",
            "name": "grantId",
            "type": "bytes32"
          },
          {
            "internalType": "uint256",
            "name": "nonce",
            "type": "uint256"
          }
        ],
        "internalType": "struct ConsentRegistry.Revoke",
        "name": "r",
        "type": "tuple"
      },
      {
        "internalType": "bytes",
        "name": "signature",
        "type": "bytes"
      }
    ],
    "name": "revoke",
    "outputs": [],
    "stateMutability": "nonpayable",
    "type": "function"
  },
  {
    "inputs": [
      {
        "components": [
          {
            "internalType": "address",
            "name": "patient",
            "type": "address"
          },
          {
            "internalType": "bytes32",
            "name": "grantId",
            "type": "bytes32"
          },
          {
            "internalType": "uint256",
            "name": "nonce",
            "type": "uint256"
          }
        ],
        "internalType": "struct ConsentRegistry.Revoke",
        "name": "r",
        "type": "tuple"
      }
    ],
    "name": "revokeDigest",
    "outputs": [
      {
        "internalType": "bytes32",
        "name": "",
        "type": "bytes32"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  }
] as const;

export const consentRegistryBytecode = "0x610160604052348015610010575f5ffd5b50604080518082018252601981527f63617265636861696e20436f6e73656e74526567697374727900000000000000602080830191909152825180840190935260018352603160f81b9083015290610068825f610111565b61012052610077816001610111565b61014052815160208084019190912060e052815190820120610100524660a05261010360e05161010051604080517f8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f60208201529081019290925260608201524660808201523060a08201525f9060c00160405160208183030381529060405280519060200120905090565b60805250503060c052610333565b5f60208351101561012c5761012583610143565b905061013d565b816101378482610221565b5060ff90505b92915050565b5f5f829050601f81511115610176578260405163305a27a960e01b815260040161016d91906102db565b60405180910390fd5b805161018182610310565b179392505050565b634e487b7160e01b5f52604160045260245ffd5b600181811c908216806101b157607f821691505b6020821081036101cf57634e487b7160e01b5f52602260045260245ffd5b50919050565b601f82111561021c57805f5260205f20601f840160051c810160208510156101fa5750805b601f840160051c820191505b81811015610219575f8155600101610206565b50505b505050565b81516001600160401b0381111561023a5761023a610189565b61024e81610248845461019d565b846101d5565b6020601f821160018114610280575f83156102695750848201515b5f19600385901b1c1916600184901b178455610219565b5f84815260208120601f198516915b828110156102af578785015182556020948501946001909201910161028f565b50848210156102cc57868401515f19600387901b60f8161c191681555b50505050600190811b01905550565b602081525f82518060208401528060208501604085015e5f604082850101526040601f19601f83011684010191505092915050565b805160208083015191908110156101cf575f1960209190910360031b1b16919050565b60805160a05160c05160e0516101005161012051610140516116ba6103845f395f610bd901525f610bad01525f6109fa01525f6109d201525f61092d01525f61095701525f61098101526116ba5ff3fe608060405234801561000f575f5ffd5b50600436106100e5575f3560e01c806387a59dd111610088578063bf17968b11610063578063bf17968b146101fd578063cd95f4a314610205578063e483ac0414610218578063e7b59f1b1461038e575f5ffd5b806387a59dd1146101a95780638a732227146101bc578063b51bf4c0146101e3575f5ffd5b80637149e98c116100c35780637149e98c1461013e5780637ecebe0014610153578063832c7ea01461017b57806384b0196e1461018e575f5ffd5b8063073f5d9f146100e95780633644e5151461012357806362bc87f41461012b575b5f5ffd5b6101107fe6f20cd6f997cabde1aaa20b8d67432bb012f623e437e4e5e47179e8fc0b723d81565b6040519081526020015b60405180910390f35b610110610395565b610110610139366004610f7e565b6103a3565b61015161014c366004610fdc565b610427565b005b610110610161366004611052565b6001600160a01b03165f9081526002602052604090205490565b61011061018936600461107e565b610586565b610196610590565b60405161011a97969594939291906110c7565b6101106101b736600461115d565b6105d2565b6101107fda7611eebc233e3e45cd6a883b37d6d14c66d433a127d3522806169cdfea5ad581565b6101eb600181565b60405160ff909116815260200161011a565b6101eb600281565b61011061021336600461107e565b61090f565b610381610226366004611195565b604080516101c0810182525f6080820181815260a0830182905260c0830182905260e08301829052610100830182905261012083018290526101408301829052610160830182905261018083018290526101a083018290528252602082018190529181018290526060810191909152505f9081526003602081815260409283902083516101c08101855281546001600160a01b0381166080830190815260ff600160a01b909204821660a0840152600184015460c0840152600284015460e08401529483015463ffffffff80821661010080860191909152640100000000830490911661012085015268010000000000000000820483166101408501526001600160401b03600160481b8084048216610160870152600160881b909304811661018086015260048601546101a08601529684526005909401549182161515948301949094529182048416948101949094520416606082015290565b60405161011a91906111ac565b6101eb5f81565b5f61039e610921565b905090565b5f6104217fda7611eebc233e3e45cd6a883b37d6d14c66d433a127d3522806169cdfea5ad56103d56020850185611052565b604080516020818101949094526001600160a01b039092168282015291850135606082015290840135608082015260a00160405160208183030381529060405280519060200120610a4a565b92915050565b61044c6104376020850185611052565b8460400135610445866103a3565b8585610a76565b6020838101355f908152600390915260409020600581015461010090046001600160401b0316158061049857506104866020850185611052565b81546001600160a01b03908116911614155b156104c157604051630c39021760e41b8152602085013560048201526024015b60405180910390fd5b600581015460ff16156104ed57604051635d6ce7df60e11b8152602085013560048201526024016104b8565b6005810180546001600160401b034216600160481b0270ffffffffffffffff0000000000000000ff1990911617600117905561052c6020850185611052565b6001600160a01b031684602001357f7d9429bb8d77a461e51d3ff1fd70db69aadd5fa2e259909f35aeebf5c3c7042e4260405161057891906001600160401b0391909116815260200190565b60405180910390a350505050565b5f61042182610b55565b5f6060805f5f5f60606105a1610ba6565b6105a9610bd2565b604080515f80825260208201909252600f60f81b9b939a50919850469750309650945092509050565b5f6105dc84610b55565b90506106046105ee6020860186611052565b8561012001356105fd84610a4a565b8686610a76565b600261061660408601602087016112c1565b60ff16111561064e5761062f60408501602086016112c1565b6040516322aff4f360e11b815260ff90911660048201526024016104b8565b600261066060408601602087016112c1565b60ff161460608501351515146106895760405163594472c160e11b815260040160405180910390fd5b61069960a08501608086016112f8565b63ffffffff1615806106bb57506106b660e0850160c086016112c1565b60ff16155b156106d957604051632a29b6a960e21b815260040160405180910390fd5b6106eb61012085016101008601611332565b6001600160401b0316610705610100860160e08701611332565b6001600160401b03161061076257610724610100850160e08601611332565b61073661012086016101008701611332565b60405163c144688160e01b81526001600160401b039283166004820152911660248201526044016104b8565b4261077561012086016101008701611332565b6001600160401b0316116107c35761079561012085016101008601611332565b6040516301c61bfd60e51b81526001600160401b0391821660048201524290911660248201526044016104b8565b5f81815260036020526040902084816107dc828261137d565b505060058101805468ffffffffffffffff001916610100426001600160401b03160217905560408501356108136020870187611052565b6001600160a01b0316837f5ade9d302e1dddb1427f8c437e983aa64ded4e81ef8d548969308068245384ab61084e60408a0160208b016112c1565b60608a013561086360a08c0160808d016112f8565b61087360c08d0160a08e016112f8565b61088360e08e0160c08f016112c1565b8d60e00160208101906108969190611332565b8e6101000160208101906108aa9190611332565b6040805160ff9889168152602081019790975263ffffffff95861687820152939094166060860152941660808401526001600160401b0393841660a0840152921660c08201526101208b013560e08201529051908190036101000190a4509392505050565b5f61042161091c83610b55565b610a4a565b5f306001600160a01b037f00000000000000000000000000000000000000000000000000000000000000001614801561097957507f000000000000000000000000000000000000000000000000000000000000000046145b156109a357507f000000000000000000000000000000000000000000000000000000000000000090565b61039e604080517f8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f60208201527f0000000000000000000000000000000000000000000000000000000000000000918101919091527f000000000000000000000000000000000000000000000000000000000000000060608201524660808201523060a08201525f9060c00160405160208183030381529060405280519060200120905090565b5f610421610a56610921565b8360405161190160f01b8152600281019290925260228201526042902090565b6001600160a01b0385165f90815260026020526040902054848114610ac757604051630157b74160e41b81526001600160a01b038716600482015260248101829052604481018690526064016104b8565b610b07868585858080601f0160208091040260200160405190810160405280939291908181526020018383808284375f92019190915250610bff92505050565b610b2f576040516329b2fba360e01b81526001600160a01b03871660048201526024016104b8565b6001600160a01b039095165f908152600260205260409020600190950190945550505050565b5f7fe6f20cd6f997cabde1aaa20b8d67432bb012f623e437e4e5e47179e8fc0b723d82604051602001610b89929190611505565b604051602081830303815290604052805190602001209050919050565b606061039e7f00000000000000000000000000000000000000000000000000000000000000005f610c72565b606061039e7f00000000000000000000000000000000000000000000000000000000000000006001610c72565b5f836001600160a01b03163b5f03610c5d575f5f610c1d8585610d1c565b5090925090505f816003811115610c3657610c366115f1565b148015610c545750856001600160a01b0316826001600160a01b0316145b92505050610c6b565b610c68848484610d65565b90505b9392505050565b606060ff8314610c8c57610c8583610e3c565b9050610421565b818054610c9890611605565b80601f0160208091040260200160405190810160405280929190818152602001828054610cc490611605565b8015610d0f5780601f10610ce657610100808354040283529160200191610d0f565b820191905f5260205f20905b815481529060010190602001808311610cf257829003601f168201915b5050505050905092915050565b5f5f5f8351604103610d53576020840151604085015160608601515f1a610d4588828585610e79565b955095509550505050610d5e565b505081515f91506002905b9250925092565b5f5f5f856001600160a01b03168585604051602401610d85929190611637565b60408051601f198184030181529181526020820180516001600160e01b0316630b135d3f60e11b17905251610dba9190611657565b5f60405180830381855afa9150503d805f8114610df2576040519150601f19603f3d011682016040523d82523d5f602084013e610df7565b606091505b5091509150818015610e0b57506020815110155b8015610e3257508051630b135d3f60e11b90610e30908301602090810190840161166d565b145b9695505050505050565b60605f610e4883610f41565b6040805160208082528183019092529192505f91906020820181803683375050509182525060208101929092525090565b5f80807f7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0841115610eb257505f91506003905082610f37565b604080515f808252602082018084528a905260ff891692820192909252606081018790526080810186905260019060a0016020604051602081039080840390855afa158015610f03573d5f5f3e3d5ffd5b5050604051601f1901519150506001600160a01b038116610f2e57505f925060019150829050610f37565b92505f91508190505b9450945094915050565b5f60ff8216601f81111561042157604051632cd44ac360e21b815260040160405180910390fd5b5f60608284031215610f78575f5ffd5b50919050565b5f60608284031215610f8e575f5ffd5b610c6b8383610f68565b5f5f83601f840112610fa8575f5ffd5b5081356001600160401b03811115610fbe575f5ffd5b602083019150836020828501011115610fd5575f5ffd5b9250929050565b5f5f5f60808486031215610fee575f5ffd5b610ff88585610f68565b925060608401356001600160401b03811115611012575f5ffd5b61101e86828701610f98565b9497909650939450505050565b6001600160a01b038116811461103f575f5ffd5b50565b803561104d8161102b565b919050565b5f60208284031215611062575f5ffd5b8135610c6b8161102b565b5f6101408284031215610f78575f5ffd5b5f610140828403121561108f575f5ffd5b610c6b838361106d565b5f81518084528060208401602086015e5f602082860101526020601f19601f83011685010191505092915050565b60ff60f81b8816815260e060208201525f6110e560e0830189611099565b82810360408401526110f78189611099565b606084018890526001600160a01b038716608085015260a0840186905283810360c0850152845180825260208087019350909101905f5b8181101561114c57835183526020938401939092019160010161112e565b50909b9a5050505050505050505050565b5f5f5f6101608486031215611170575f5ffd5b61117a858561106d565b92506101408401356001600160401b03811115611012575f5ffd5b5f602082840312156111a5575f5ffd5b5035919050565b815180516001600160a01b031682526101a082019060208101516111d5602085018260ff169052565b5060408101516040840152606081015160608401526080810151611201608085018263ffffffff169052565b5060a081015161121960a085018263ffffffff169052565b5060c081015161122e60c085018260ff169052565b5060e081015161124960e08501826001600160401b03169052565b506101008101516112666101008501826001600160401b03169052565b5061012090810151908301526020830151151561014083015260408301516001600160401b039081166101608401526060909301519092166101809091015290565b60ff8116811461103f575f5ffd5b803561104d816112a8565b5f602082840312156112d1575f5ffd5b8135610c6b816112a8565b63ffffffff8116811461103f575f5ffd5b803561104d816112dc565b5f60208284031215611308575f5ffd5b8135610c6b816112dc565b6001600160401b038116811461103f575f5ffd5b803561104d81611313565b5f60208284031215611342575f5ffd5b8135610c6b81611313565b5f81356104218161102b565b5f8135610421816112a8565b5f8135610421816112dc565b5f813561042181611313565b6113a66113898361134d565b82546001600160a01b0319166001600160a01b0391909116178255565b6113d36113b560208401611359565b82805460ff60a01b191660a09290921b60ff60a01b16919091179055565b6040820135600182015560608201356002820155600381016114116113fa60808501611365565b825463ffffffff191663ffffffff91909116178255565b61144261142060a08501611365565b825467ffffffff00000000191660209190911b67ffffffff0000000016178255565b61147561145160c08501611359565b825468ff0000000000000000191660409190911b68ff000000000000000016178255565b6114b861148460e08501611371565b825470ffffffffffffffff000000000000000000191660489190911b70ffffffffffffffff00000000000000000016178255565b6114f46114c86101008501611371565b82805467ffffffffffffffff60881b191660889290921b67ffffffffffffffff60881b16919091179055565b506101209190910135600490910155565b828152610160810161152a6020830161151d85611042565b6001600160a01b03169052565b611536602084016112b6565b60ff811660408401525060408301356060838101919091528301356080808401919091526115659084016112ed565b63ffffffff811660a08401525061157e60a084016112ed565b63ffffffff811660c08401525061159760c084016112b6565b60ff811660e0840152506115ad60e08401611327565b6001600160401b038116610100840152506115cb6101008401611327565b6001600160401b0381166101208401525061012092909201356101409190910152919050565b634e487b7160e01b5f52602160045260245ffd5b600181811c9082168061161957607f821691505b602082108103610f7857634e487b7160e01b5f52602260045260245ffd5b828152604060208201525f61164f6040830184611099565b949350505050565b5f82518060208501845e5f920191825250919050565b5f6020828403121561167d575f5ffd5b505191905056fea2646970667358221220ec7147cc239c211a57d5c7bb4adfa6db10c48710e4f3b5593e0cc7b26ea7170a64736f6c634300081c0033" as const;
